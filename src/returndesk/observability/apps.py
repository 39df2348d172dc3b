from __future__ import annotations

import contextlib
from typing import Any

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "returndesk.observability"
    label = "observability"

    def ready(self) -> None:
        from django.tasks.signals import task_finished, task_started

        task_started.connect(_task_context_open, dispatch_uid="returndesk_task_log_context")
        task_finished.connect(_task_context_close, dispatch_uid="returndesk_task_log_context")


# The ad-hoc task worker (django.tasks' db_worker) runs one task at a time in its thread and
# announces each start and finish: records logged in between carry the task's name and id.
_open_tasks: dict[str, Any] = {}


def _task_context_open(sender: Any, task_result: Any, **kwargs: Any) -> None:
    from returndesk.core.logs import bind_context

    _open_tasks[str(task_result.id)] = bind_context(
        task=task_result.task.name, task_id=str(task_result.id)
    )


def _task_context_close(sender: Any, task_result: Any, **kwargs: Any) -> None:
    from returndesk.core.logs import unbind_context

    token = _open_tasks.pop(str(task_result.id), None)
    if token is not None:
        # finished in another context than it started: nothing to undo
        with contextlib.suppress(ValueError):
            unbind_context(token)
