"""Metrics of several processes (gunicorn's workers) added up through their shared folder."""
from __future__ import annotations

from idp.operations import Metrics


def samples(text: str) -> set[str]:
    return {line for line in text.splitlines() if not line.startswith("#")}


def test_a_scrape_reaching_one_worker_reports_every_workers_counts(tmp_path):
    first, second = Metrics(tmp_path, process_id=101), Metrics(tmp_path, process_id=102)
    first.count_login("kosmo-demo", "success")
    second.count_login("kosmo-demo", "success")
    second.count_login("kosmo-demo", "failure")
    second.count_grant("kosmo-demo", "refresh_token", "success")
    first.observe("GET", "/health/live", 0.003)
    second.observe("GET", "/health/live", 0.2)
    first.save()
    second.save()

    scraped = samples(first.exposition())

    assert scraped == samples(second.exposition())
    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 2' in scraped
    assert 'idp_logins_total{realm="kosmo-demo",result="failure"} 1' in scraped
    assert 'idp_token_grants_total{realm="kosmo-demo",grant_type="refresh_token",result="success"} 1' in scraped
    live = 'method="GET",endpoint="/health/live"'
    assert f'idp_request_duration_seconds_bucket{{{live},le="0.005"}} 1' in scraped
    assert f'idp_request_duration_seconds_bucket{{{live},le="0.25"}} 2' in scraped
    assert f'idp_request_duration_seconds_count{{{live}}} 2' in scraped


def test_a_scrape_includes_what_the_scraped_worker_counted_since_it_last_saved(tmp_path):
    worker = Metrics(tmp_path, process_id=7)
    worker.save()
    worker.count_login("kosmo-demo", "success")

    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 1' in samples(worker.exposition())


def test_a_stopped_workers_counts_stay_in_the_total(tmp_path):
    stopped = Metrics(tmp_path, process_id=1)
    stopped.count_login("kosmo-demo", "success")
    stopped.save()
    del stopped

    replacement = Metrics(tmp_path, process_id=2)
    replacement.count_login("kosmo-demo", "success")

    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 2' in samples(replacement.exposition())


def test_without_a_folder_a_process_reports_its_own_counts_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    alone = Metrics()
    alone.count_login("kosmo-demo", "success")
    alone.save()

    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 1' in samples(alone.exposition())
    assert list(tmp_path.iterdir()) == []
