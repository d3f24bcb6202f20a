-- Enqueue one or many jobs of one queue, atomically: `enqueue_jobs` in jobs.lua (shared with the
-- schedules' ticks) says how.
return enqueue_jobs(KEYS[1], ARGV)
