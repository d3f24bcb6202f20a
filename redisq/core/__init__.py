"""The redisq core: tasks, enqueue, jobs, results, stats, health and the worker. No web framework here."""
