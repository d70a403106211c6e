"""An outage: a subscription's consumers take no new copies for a while."""

from asimpy import Process, Timeout

from .subscription import Subscription


class Outage(Process):
    """Pauses `subscription`'s mailboxes from `start` for `duration` seconds.

    Work in progress finishes; copies keep arriving and wait.
    """

    def init(self, subscription: Subscription, start: float, duration: float):
        self.subscription = subscription
        self.start = start
        self.duration = duration

    async def run(self):
        await Timeout(self._env, self.start)
        for mailbox in self.subscription.mailboxes:
            mailbox.pause()
        await Timeout(self._env, self.duration)
        for mailbox in self.subscription.mailboxes:
            mailbox.resume(self._env.now)
