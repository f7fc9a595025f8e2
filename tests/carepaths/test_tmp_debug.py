import time
import urllib.request
from pathlib import Path

import pytest

from carepath.accounts.models import User
from carepath.carepaths.seed import seed_care_paths
from tests.browser.fixtures import NewContext
from tests.browser.helpers import sign_in
from tests.carepaths.conftest import open_episode
from tests.carepaths.test_browser_carepaths import in_thread, reach_the_check_in

pytestmark = pytest.mark.browser


def test_debug(live_server_url: str, new_context: NewContext, alice: User, dr_tex: User) -> None:
    seed_care_paths()
    episode = open_episode(alice, "dermatology", dr_tex)
    assert in_thread(lambda: reach_the_check_in(episode, dr_tex)) == 1
    ctx = new_context()
    sign_in(ctx, live_server_url, alice)
    cookie = ctx.cookies()[0]
    for url in ("/care-paths/check-ins/", f"/care-paths/episodes/{episode.pk}/"):
        req = urllib.request.Request(live_server_url + url, headers={"Cookie": f"sessionid={cookie['value']}"})
        t = time.time()
        try:
            with urllib.request.urlopen(req, timeout=8) as r:
                body = r.read()
                print(url, r.status, time.time() - t, len(body))
        except Exception as e:
            print(url, "ERR", e, time.time() - t)
