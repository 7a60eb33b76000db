"""Job events for frontends: each team's bounded event stream in Redis (transitions published
by the Lua scripts that make them, alerts by `publish`), read by the SSE endpoint
(`wrapper.api.events`) and delivered to the team's webhooks by the watcher
(`queue_workers.watcher.webhooks`, with `wrapper.events.webhooks`)."""

from wrapper.events.stream import Event, publish
from wrapper.events.types import EVENT_TYPES, UnknownEventType

__all__ = ["EVENT_TYPES", "Event", "UnknownEventType", "publish"]
