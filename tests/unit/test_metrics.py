"""Metrics of several processes (gunicorn's workers) added up through their shared folder."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from prometheus_client import multiprocess

from idp.operations import Metrics


def samples(text: str) -> set[str]:
    return {line for line in text.splitlines() if not line.startswith("#")}


def worker(folder, counting: str) -> tuple[int, str]:
    """Run `counting` (statements on `metrics`) in a process of its own, as a gunicorn worker with
    prometheus_client's multiprocess folder set before the import; its pid and its own scrape."""
    script = textwrap.dedent(f"""
        import os
        from idp.operations import Metrics
        metrics = Metrics(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        {counting}
        print(os.getpid())
        print(metrics.exposition(), end="")
    """)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    pid, scraped = done.stdout.split("\n", 1)
    return int(pid), scraped


def test_a_scrape_reaching_one_worker_reports_every_workers_counts(tmp_path):
    worker(tmp_path, 'metrics.count_login("kosmo-demo", "success"); metrics.observe("GET", "/health/live", 0.003)')
    _, scraped_second = worker(tmp_path, "; ".join([
        'metrics.count_login("kosmo-demo", "success")', 'metrics.count_login("kosmo-demo", "failure")',
        'metrics.count_grant("kosmo-demo", "refresh_token", "success")',
        'metrics.observe("GET", "/health/live", 0.2)']))

    scraped = samples(Metrics(str(tmp_path)).exposition())

    assert scraped == samples(scraped_second)
    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 2' in scraped
    assert 'idp_logins_total{realm="kosmo-demo",result="failure"} 1' in scraped
    assert 'idp_token_grants_total{realm="kosmo-demo",grant_type="refresh_token",result="success"} 1' in scraped
    live = 'method="GET",endpoint="/health/live"'
    assert f'idp_request_duration_seconds_bucket{{{live},le="0.005"}} 1' in scraped
    assert f'idp_request_duration_seconds_bucket{{{live},le="0.25"}} 2' in scraped
    assert f'idp_request_duration_seconds_count{{{live}}} 2' in scraped


def test_a_scrape_includes_what_the_scraped_worker_counted_just_before(tmp_path):
    _, scraped = worker(tmp_path, 'metrics.exposition(); metrics.count_login("kosmo-demo", "success")')

    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 1' in samples(scraped)


def test_a_stopped_workers_counts_stay_in_the_total(tmp_path):
    stopped, _ = worker(tmp_path, 'metrics.count_login("kosmo-demo", "success")')
    multiprocess.mark_process_dead(stopped, str(tmp_path))  # what gunicorn's child_exit hook does

    _, scraped = worker(tmp_path, 'metrics.count_login("kosmo-demo", "success")')

    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 2' in samples(scraped)


def test_without_a_folder_a_process_reports_its_own_counts_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    alone = Metrics()
    alone.count_login("kosmo-demo", "success")

    assert 'idp_logins_total{realm="kosmo-demo",result="success"} 1' in samples(alone.exposition())
    assert list(tmp_path.iterdir()) == []
