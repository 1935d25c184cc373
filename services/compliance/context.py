"""What compliance's command handlers (the send gate's and the contact ledger's) work with: the service,
its settings and the policy defaults they give, numbers' answers about senders, and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from libs.runtime.service import Service
from libs.store.eventstore import EventStore
from proto.base import utcnow
from services.compliance.config import ComplianceSettings, policy_defaults
from services.compliance.senders import Senders


class Handlers:
    def __init__(self, svc: Service, settings: ComplianceSettings, senders: Senders,
                 clock: Callable[[], datetime] = utcnow):
        self.svc = svc
        self.settings = settings
        self.senders = senders
        self.now = clock
        self.defaults = policy_defaults(settings)

    @property
    def store(self) -> EventStore:
        """The event store (it exists once the service has started)."""
        return self.svc.store
