import cProfile, pstats, time
from tests.rpm.test_ingest import normal_lines, post_ndjson

def test_prof(cuff_client):
    lines = normal_lines(10_000)
    pr = cProfile.Profile()
    t = time.perf_counter()
    pr.enable()
    r = post_ndjson(cuff_client, lines)
    pr.disable()
    print("elapsed", time.perf_counter() - t, r.status_code)
    pstats.Stats(pr).sort_stats("tottime").print_stats(25)
