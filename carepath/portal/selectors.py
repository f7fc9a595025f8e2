"""What the patient's home page shows about their care right now: open episodes, a live visit
they can join, check-ins waiting for answers. Reads only (other apps' models read-only); the
view audits what it lists."""

from dataclasses import dataclass

from django.db.models import Q

from carepath.accounts.models import User
from carepath.care.models import EpisodeStatus
from carepath.care.overview import EpisodeCard, episode_cards
from carepath.care.selectors import episodes_with_activity
from carepath.carepaths.models import CheckIn
from carepath.visits.models import LIVE_STATUSES, AdmissionState, Visit

OPEN_EPISODES_SHOWN = 3


@dataclass(frozen=True)
class CareNow:
    episodes: list[EpisodeCard]
    open_episode_count: int
    live_visits: list[Visit]
    check_ins: list[CheckIn]

    @property
    def more_open(self) -> int:
        return max(0, self.open_episode_count - len(self.episodes))

    @property
    def anything_open(self) -> bool:
        return bool(self.episodes or self.live_visits or self.check_ins)


def care_now(patient: User) -> CareNow:
    open_episodes = episodes_with_activity(patient.pk).filter(status=EpisodeStatus.OPEN)
    return CareNow(
        episodes=episode_cards(patient, open_episodes[:OPEN_EPISODES_SHOWN]),
        open_episode_count=open_episodes.count(),
        live_visits=live_visits_of(patient),
        check_ins=pending_check_ins(patient),
    )


def live_visits_of(patient: User) -> list[Visit]:
    """Visits open or in progress that the patient is in (theirs, or one they were brought
    into and not removed from), newest first."""
    joined = Q(participants__user=patient) & ~Q(participants__state=AdmissionState.REMOVED)
    return list(
        Visit.objects.filter(Q(patient=patient) | joined, status__in=LIVE_STATUSES)
        .select_related("clinician")
        .distinct()
        .order_by("-starts_at", "-pk")[:5]
    )


def pending_check_ins(patient: User) -> list[CheckIn]:
    """Check-ins sent to the patient and not yet answered (nor withdrawn), newest first. One
    of an episode that has ended can no longer be answered."""
    return list(
        CheckIn.objects.filter(
            episode__patient=patient,
            episode__status=EpisodeStatus.OPEN,
            sent_at__isnull=False,
            answered_at__isnull=True,
            cancelled_at__isnull=True,
        )
        .select_related("episode", "questionnaire")
        .order_by("-sent_at", "-pk")[:5]
    )
