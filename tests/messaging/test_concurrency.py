"""Concurrent senders on one thread never collide: seq is assigned under the thread row lock
(PostgreSQL) / the write lock (SQLite), and (thread, seq) is unique in the database."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from carepath.accounts.models import Role, User
from carepath.messaging.actions import do_send_message
from carepath.messaging.models import Message, Thread
from tests.messaging.helpers import care_team, patient_thread
from tests.personas import make_staff

pytestmark = pytest.mark.usefixtures("flushable_db")

PER_SENDER = 10


def test_concurrent_senders_get_unique_contiguous_seqs(alice: User, dr_tex: User) -> None:
    senders = [alice, dr_tex]
    for n in range(2):
        member = make_staff(f"nurse{n}@example.com", Role.COORDINATOR)
        senders.append(member)
    for member in senders[1:]:
        care_team(member, alice)
    thread = patient_thread(alice, "start")
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(senders))

    def send_all(author: User) -> None:
        try:
            barrier.wait()
            for n in range(PER_SENDER):
                do_send_message(author, Thread.objects.get(pk=thread.pk), f"{author.pk}:{n}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=send_all, args=(author,)) for author in senders]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    rows = list(Message.objects.filter(thread=thread).order_by("seq").values_list("seq", "body"))
    total = 1 + PER_SENDER * len(senders)
    assert [seq for seq, _ in rows] == list(range(1, total + 1))
    thread.refresh_from_db()
    assert thread.last_seq == total
    for author in senders:  # each sender's own messages keep their order
        mine = [int(body.split(":")[1]) for _, body in rows if body.startswith(f"{author.pk}:")]
        assert mine == list(range(PER_SENDER))


def test_the_database_refuses_a_duplicate_seq(alice: User) -> None:
    thread = patient_thread(alice, "one")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(thread=thread, seq=1, author=alice, body="dup")
