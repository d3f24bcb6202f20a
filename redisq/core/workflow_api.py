"""Enqueueing workflows and jobs with dependencies (issue 16), async and sync: mixed into RedisQ, which
provides the connections, the keys and the request's context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import workflow_ops
from .backend import AsyncBackend, SyncBackend
from .codec import JobMeta
from .config import Settings
from .errors import ConfigurationError
from .keys import QueueKeys
from .operation import Op
from .ops import new_uids
from .task import JobSpec
from .workflow import Node, Part, Workflow, check_workflow_id, compile_workflow, with_dependencies
from .workflow_ops import WorkflowInfo, workflow_info

if TYPE_CHECKING:
    from .jobs import Job


class WorkflowEnqueue:
    settings: Settings
    eager: Any
    _queues_registered: set[str]

    if TYPE_CHECKING:  # provided by RedisQ

        def backend(self) -> AsyncBackend: ...
        def backend_sync(self) -> SyncBackend: ...
        def queue_keys(self, queue: str) -> QueueKeys: ...
        def now_ms(self) -> int: ...
        def _job_meta(self) -> JobMeta: ...
        def _on_cluster(self, specs: Sequence[JobSpec]) -> None: ...
        def _jobs(self, specs: Sequence[JobSpec], results: list[tuple[str, str, bool]]) -> list[Job]: ...

    def _graph_op(
        self, nodes: Sequence[Node], workflow_id: str | None, idempotent: bool = False
    ) -> Op[list[tuple[str, str, bool]]]:
        if self.eager is not None:  # its waiting jobs would need a worker to release them
            raise ConfigurationError("workflows and depends_on do not run eagerly: test them with a worker")
        self._on_cluster([n.spec for n in nodes])
        return workflow_ops.enqueue_graph(
            self.queue_keys,
            self.settings,
            nodes,
            self.now_ms(),
            self._job_meta(),
            self._queues_registered,
            workflow_id,
            idempotent,
        )

    def _workflow(self, nodes: Sequence[Node], results: list[tuple[str, str, bool]], wid: str) -> Workflow:
        jobs = self._jobs([n.spec for n in nodes], results)
        depended = {dep for n in nodes for dep, _ in n.deps if isinstance(dep, int)}
        return Workflow(wid, jobs, [job for i, job in enumerate(jobs) if i not in depended])

    async def enqueue_workflow(self, flow: Part, *, id: str | None = None) -> Workflow:
        """Enqueue a composition (`chain`, `group`, `chord`, or one `task.call(...)`). With an `id`, a
        repeated call (a retried HTTP request) returns the jobs of the first instead of new ones, for as
        long as they are kept."""
        nodes, wid = compile_workflow(flow), new_uids(1)[0] if id is None else check_workflow_id(id)
        return self._workflow(
            nodes, await self.backend().run(self._graph_op(nodes, wid, id is not None)), wid
        )

    def enqueue_workflow_sync(self, flow: Part, *, id: str | None = None) -> Workflow:
        nodes, wid = compile_workflow(flow), new_uids(1)[0] if id is None else check_workflow_id(id)
        return self._workflow(nodes, self.backend_sync().run(self._graph_op(nodes, wid, id is not None)), wid)

    async def workflow(self, workflow_id: str) -> WorkflowInfo:
        """A workflow's steps, their edges and their states now; WorkflowNotFound once it expired (kept as
        long as a dead letter, `Settings.dead_ttl_s`)."""
        return await self.backend().run(workflow_info(self.queue_keys, self.settings.prefix, workflow_id))

    def workflow_sync(self, workflow_id: str) -> WorkflowInfo:
        return self.backend_sync().run(workflow_info(self.queue_keys, self.settings.prefix, workflow_id))

    def _dependent_nodes(self, specs: Sequence[JobSpec]) -> list[Node]:
        return [node for spec in specs for node in with_dependencies(spec, spec.depends_on)]

    async def _enqueue_dependent(self, specs: Sequence[JobSpec]) -> list[Job]:
        """Specs of which some wait for existing jobs (`depends_on`): each registered on those first."""
        nodes = self._dependent_nodes(specs)
        return self._jobs(specs, await self.backend().run(self._graph_op(nodes, None)))

    def _enqueue_dependent_sync(self, specs: Sequence[JobSpec]) -> list[Job]:
        nodes = self._dependent_nodes(specs)
        return self._jobs(specs, self.backend_sync().run(self._graph_op(nodes, None)))
