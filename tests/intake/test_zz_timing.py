import time, json
import pytest
from collections import Counter
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.intake.conftest import upload_photo, derm_answers
pytestmark = pytest.mark.django_db

def test_timing(alice, dr_tex, lines, client_for):
    c = client_for(alice)
    for i in range(4):
        pid = upload_photo(alice)
        body = {"service_line": "dermatology", "state": "TX", "submit": True, "answers": derm_answers([pid])}
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            r2 = c.post("/api/v1/intake/cases", body, content_type="application/json", headers={"Idempotency-Key": f"k{i}"})
            t2 = time.perf_counter()
        print("submit", round(t2-t,3), r2.status_code, len(ctx.captured_queries))
    cnt = Counter(q["sql"][:90] for q in ctx.captured_queries)
    for k, v in cnt.most_common(12): print(v, k)
