#!/usr/bin/env python3
"""bench.py: how fast, how frugal with API calls and how small the real flickrmirrorer is.

Starts fakeflickr (the local Flickr emulation) in this process with a generated account,
an API and file latency and optionally a bandwidth cap, then runs the REAL program as a
subprocess (``sys.executable flickrmirrorer.py --token-dir ... --max-calls-per-hour
1000000 DEST``; the huge budget keeps the hourly API pacing out of the measurement) and
prints one table.  For each --jobs setting: (a) first mirror into an empty directory,
(b) unchanged re-run, (c) re-run after 1 % of the photos changed on Flickr (half
replaced with new files, half with an edited title).  Per run: wall time, the program's
CPU time and peak RSS (its own rusage: os.wait4 on its pid in a tiny launcher process,
not this process; see LAUNCHER), API calls in total and by method, files and bytes
served (fakeflickr's stats()), and how many media files the mirror holds against how
many it should.

Run from the repository root (any Python with the requirements installed):

    python bench/bench.py                               # default: 1500 photos, 40 albums,
                                                        # 50 ms latency, --jobs 1 and default
    python bench/bench.py --photos 2000                 # the same at 2000 photos (~5 min)
    python bench/bench.py --photos 10000 --albums 100 --latency-ms 5   # re-run call count
    python bench/bench.py --rss-photos 100000           # peak RSS of a big account (minutes)

Targets:
  * first mirror at 50 ms latency: the default --jobs at least 4x faster than --jobs 1;
  * unchanged re-run of 10,000 photos in 100 albums: at most 150 API calls, a few seconds;
  * peak RSS of the program for 100,000 photos (first mirror and unchanged re-run): < 200 MB.

The default run takes about 4 minutes on a 2-core machine, most of it the --jobs 1 first
mirror: two 50 ms round trips per photo, plus one for the ~15 % with comments.  The
default is 1500 photos, not 2000, to stay under 5 minutes: at 2000 photos the --jobs 1
first mirror alone waits 2398 API calls + 2032 files x 50 ms = 221 s, and the whole run
took 296-305 s.  --rss-photos runs only the RSS mode (first mirror and unchanged re-run,
tiny files, no latency, default --jobs); it takes about 8-10 minutes.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAM = os.path.join(ROOT, 'flickrmirrorer.py')
sys.path.insert(0, ROOT)

import fakeflickr  # noqa: E402

DEFAULT = 'DEFAULT'
SCENARIOS = {'a': 'first mirror', 'b': 'unchanged re-run', 'c': 're-run, 1% changed'}
MiB = 1024 * 1024


# ---------------------------------------------------------------------------
# Running the program
# ---------------------------------------------------------------------------

def store_token(fake, token_dir):
    """Put an access token in flickrapi's token cache, as a login would (as the tests do)."""
    import flickrapi.auth
    import flickrapi.tokencache
    token, secret = fake.issue_token(perms='read')
    cache = flickrapi.tokencache.OAuthTokenCache(fake.api_key, '', path=str(token_dir))
    cache.token = flickrapi.auth.FlickrAccessToken(token, secret, 'read', 'Fake User',
                                                   fake.username, fake.user_nsid)


def program_env(fake):
    env = dict(os.environ)
    for name in ('BROWSER', 'DISPLAY', 'WAYLAND_DISPLAY'):
        env.pop(name, None)
    env.update(FLICKR_API_BASE=fake.base_url, FLICKR_API_KEY=fake.api_key,
               FLICKR_API_SECRET=fake.api_secret, TZ='UTC', PYTHONUNBUFFERED='1')
    return env


def program_default_jobs():
    """The program's default --jobs, read from its --help (None if it cannot be read)."""
    try:
        out = subprocess.run([sys.executable, PROGRAM, '--help'], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'--jobs\b[^(]*\(default (\d+)\)', out)
    return int(m.group(1)) if m else None


class RunResult:
    def __init__(self, **kw):
        self.__dict__.update(kw)


# Why a launcher: on Linux a child's ru_maxrss is at least the RSS its parent had when it
# forked (exec copies the high-water mark of the pre-exec address space, which is a copy
# of -- or, with vfork, the same as -- the parent's, into the child's maxrss).  This process
# hosts the fake, 200 MB for 100,000 photos, so a program started straight from here would
# report this process's size.  A tiny isolated interpreter (about 8 MB) forks the program
# instead and reports the program's own rusage and wall time in a JSON file.
LAUNCHER = """
import json, os, sys, time
start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - start
with open(sys.argv[1], 'w') as f:
    json.dump({'status': os.waitstatus_to_exitcode(status), 'wall': wall, 'maxrss_kib': ru.ru_maxrss,
               'cpu': ru.ru_utime + ru.ru_stime}, f)
"""


def run_program(fake, token_dir, dest, jobs, timeout):
    """Run flickrmirrorer once (through LAUNCHER); its wall time, its own rusage and the fake's stats."""
    cmd = [sys.executable, PROGRAM, '--token-dir', token_dir, '--max-calls-per-hour', '1000000']
    if jobs != DEFAULT:
        cmd += ['--jobs', str(jobs)]
    cmd.append(dest)
    fake.reset_stats()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as tmp:
        usage_file = os.path.join(tmp, 'rusage.json')
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, '-I', '-S', '-c', LAUNCHER, usage_file] + cmd,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=program_env(fake), start_new_session=True)

        def kill():
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # the launcher and the program
            except OSError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        wall = time.monotonic() - start
        try:
            with open(usage_file) as f:
                usage = json.load(f)
        except (OSError, ValueError):   # the launcher was killed
            usage = {'status': proc.returncode, 'wall': wall, 'maxrss_kib': 0, 'cpu': 0.0}
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode('utf-8', 'replace')
        stderr = err.read().decode('utf-8', 'replace')
    stats = fake.stats()
    return RunResult(cmd=cmd, wall=usage['wall'], status=usage['status'], killed=wall >= timeout,
                     cpu=usage['cpu'], maxrss_kib=usage['maxrss_kib'],   # KiB on Linux
                     api_total=stats['api_total'], api_calls=stats['api_calls'],
                     files=stats['file_requests'], file_bytes=stats['file_bytes'],
                     faults=stats['faults'], stdout=stdout, stderr=stderr)


# ---------------------------------------------------------------------------
# The account: expectations and the 1 % change
# ---------------------------------------------------------------------------

def expected_media(fake):
    """How many media files a complete mirror holds (videos without an original cannot be had)."""
    with fake.lock:
        return sum(1 for p in fake.account.photos.values()
                   if p.media != 'video' or p.video_original_available)


def held_media(dest):
    """How many media files the mirror's photostream/ holds (no .metadata, no temp files)."""
    try:
        with os.scandir(os.path.join(dest, 'photostream')) as entries:
            return sum(1 for e in entries if re.match(r'^\d+\.[^./]+$', e.name) and e.is_file())
    except FileNotFoundError:
        return 0


def change_one_percent(fake, n_photos, rng):
    """replace_photo on half of 1 % of the photos, edit_photo (new title) on the other half."""
    with fake.lock:
        ids = sorted(p.id for p in fake.account.photos.values() if p.media == 'photo')
    count = min(len(ids), max(2, round(n_photos * 0.01)))
    chosen = rng.sample(ids, count)
    replaced, edited = chosen[:count // 2], chosen[count // 2:]
    for pid in replaced:
        fake.replace_photo(pid)
    for pid in edited:
        fake.edit_photo(pid, title='Edited by bench %d' % rng.randrange(10 ** 9))
    return len(replaced), len(edited)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def short_method(name):
    """'flickr.photos.getInfo' -> 'getInfo'; 'flickr.people.getPhotos' -> 'people.getPhotos'."""
    name = name[len('flickr.'):] if name.startswith('flickr.') else name
    if name.startswith('photos.'):
        name = name[len('photos.'):]
    return name


def by_method(calls):
    order = sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))
    return ', '.join('%s %d' % (short_method(m), n) for m, n in order) or '-'


def human_bytes(n):
    for unit, size in (('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if n >= size:
            return '%.1f %s' % (n / size, unit)
    return '%d B' % n


def jobs_label(jobs, default_jobs):
    if jobs == DEFAULT:
        return 'default (%s)' % (default_jobs if default_jobs is not None else '?')
    return str(jobs)


def print_table(rows, default_jobs):
    head = ('jobs', 'scenario', 'wall s', 'cpu s', 'exit', 'held/expected', 'files', 'bytes',
            'peak RSS', 'API', 'API calls by method')
    lines = [head]
    for jobs, key, r, extra in rows:
        lines.append((jobs_label(jobs, default_jobs), '(%s) %s%s' % (key, SCENARIOS[key], extra),
                      '%.1f' % r.wall, '%.1f' % r.cpu,
                      ('%d' % r.status) + (' KILLED' if r.killed else ''),
                      '%d/%d' % (r.held, r.expected), str(r.files), human_bytes(r.file_bytes),
                      '%.0f MiB' % (r.maxrss_kib / 1024), str(r.api_total), by_method(r.api_calls)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    numeric = {2, 3, 4, 6, 7, 8, 9}
    for n, line in enumerate(lines):
        cells = [c.rjust(widths[i]) if i in numeric and n else c.ljust(widths[i])
                 for i, c in enumerate(line[:-1])]
        print('  '.join(cells + [line[-1]]))
        if n == 0:
            print('  '.join('-' * w for w in widths) + '  ' + '-' * len(head[-1]))
    sys.stdout.flush()


def report_problems(rows):
    """Show what went wrong in a run (beyond the expected 'videos without original' warning)."""
    if any(r.status == 1 and r.ok for _, _, r, _ in rows):
        print('(exit 1 with every expected file held: some videos offer no original file, which '
              'the program reports as exit 1, as designed)')
    for jobs, key, r, _ in rows:
        bad_lines = [line for line in r.stderr.splitlines()
                     if line.startswith('Error:') or 'Traceback' in line]
        if not r.ok or bad_lines:
            print('\n!! jobs %s, scenario (%s): exit %s, held %d of %d; command: %s'
                  % (jobs, key, r.status, r.held, r.expected, ' '.join(r.cmd)))
            tail = r.stderr.strip().splitlines()[-15:]
            for line in tail:
                print('   stderr: ' + line)


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------

def make_fake(args, photos, videos, albums, file_size, latency_ms):
    t0 = time.monotonic()
    fake = fakeflickr.FakeFlickr(seed=args.seed, photos=photos, videos=videos, albums=albums,
                                 collections=args.collections, file_size=file_size,
                                 hostile_names=not args.plain_names)
    fake.faults.api_latency = latency_ms / 1000.0
    fake.faults.file_latency = (latency_ms if args.file_latency_ms is None
                                else args.file_latency_ms) / 1000.0
    fake.faults.bandwidth = args.bandwidth
    fake.start()
    print('fakeflickr: %d photos, %d videos, %d albums, %d collections, ~%s files, API latency '
          '%g ms, file latency %g ms, bandwidth %s; generated in %.1f s; serving %s'
          % (photos, videos, albums, args.collections, human_bytes(file_size),
             fake.faults.api_latency * 1000, fake.faults.file_latency * 1000,
             '%s/s per response' % human_bytes(args.bandwidth) if args.bandwidth else 'unlimited',
             time.monotonic() - t0, fake.base_url))
    sys.stdout.flush()
    return fake


def one_run(fake, work, token_dir, dest, jobs, key, args, rows, expected, extra=''):
    sys.stderr.write('  running jobs=%s (%s) %s...\n' % (jobs, key, SCENARIOS[key]))
    r = run_program(fake, token_dir, dest, jobs, args.timeout)
    r.held, r.expected = held_media(dest), expected
    r.ok = (r.status in (0, 1) and not r.killed and r.held == r.expected
            and 'Traceback' not in r.stderr and not re.search(r'^Error:', r.stderr, re.M))
    rows.append((jobs, key, r, extra))
    sys.stderr.write('    %.1f s, exit %d, %d API calls, %d files, peak RSS %.0f MiB\n'
                     % (r.wall, r.status, r.api_total, r.files, r.maxrss_kib / 1024))
    return r


def parse_jobs_list(text):
    out = []
    for item in text.split(','):
        item = item.strip()
        if not item:
            continue
        if item.upper() == DEFAULT:
            out.append(DEFAULT)
        else:
            out.append(int(item))
    return out


def bench_mode(args, work):
    jobs_list = parse_jobs_list(args.jobs_list)
    default_jobs = program_default_jobs()
    fake = make_fake(args, args.photos, args.videos, args.albums, args.file_size, args.latency_ms)
    rows = []
    try:
        token_dir = os.path.join(work, 'tokens')
        store_token(fake, token_dir)
        rng = random.Random(args.seed)
        for jobs in jobs_list:
            dest = os.path.join(work, 'mirror-jobs-%s' % jobs)
            shutil.rmtree(dest, ignore_errors=True)
            one_run(fake, work, token_dir, dest, jobs, 'a', args, rows, expected_media(fake))
            one_run(fake, work, token_dir, dest, jobs, 'b', args, rows, expected_media(fake))
            replaced, edited = change_one_percent(fake, args.photos, rng)
            one_run(fake, work, token_dir, dest, jobs, 'c', args, rows, expected_media(fake),
                    ': %d replaced, %d edited' % (replaced, edited))
            if not args.keep:
                shutil.rmtree(dest, ignore_errors=True)
    finally:
        fake.stop()
    print()
    print_table(rows, default_jobs)
    report_problems(rows)
    print()
    first = {jobs: r for jobs, key, r, _ in rows if key == 'a'}
    if 1 in first and DEFAULT in first:
        speedup = first[1].wall / first[DEFAULT].wall
        verdict = 'met' if speedup >= 4 else 'MISSED'
        if not (first[1].ok and first[DEFAULT].ok):
            verdict = 'not meaningful: a run failed'
        elif args.latency_ms != 50:
            verdict += ', but measured at %g ms' % args.latency_ms
        print('First mirror speed-up, default jobs (%s) over --jobs 1: %.2fx  (%.1f s -> %.1f s; '
              'target >= 4x at 50 ms latency: %s)'
              % (default_jobs, speedup, first[1].wall, first[DEFAULT].wall, verdict))
    for jobs, key, r, _ in rows:
        if key == 'b':
            verdict = ''
            if args.photos >= 10000 and args.albums >= 100:
                verdict = ' (target <= 150 calls and a few seconds: calls %s)' % (
                    'met' if r.api_total <= 150 else 'MISSED by %d' % (r.api_total - 150))
            print('Unchanged re-run, jobs %s: %d API calls, %.1f s%s%s'
                  % (jobs_label(jobs, default_jobs), r.api_total, r.wall, verdict,
                     '' if r.ok else '  [RUN FAILED]'))
    print('Peak RSS (max over all runs): %.0f MiB' % (max(r.maxrss_kib for _, _, r, _ in rows) / 1024))
    return rows


def rss_mode(args, work):
    default_jobs = program_default_jobs()
    jobs = DEFAULT if args.rss_jobs.upper() == DEFAULT else int(args.rss_jobs)
    fake = make_fake(args, args.rss_photos, args.rss_videos, args.rss_albums, args.rss_file_size,
                     args.rss_latency_ms)
    rows = []
    try:
        token_dir = os.path.join(work, 'tokens')
        store_token(fake, token_dir)
        dest = os.path.join(work, 'mirror-rss')
        one_run(fake, work, token_dir, dest, jobs, 'a', args, rows, expected_media(fake))
        one_run(fake, work, token_dir, dest, jobs, 'b', args, rows, expected_media(fake))
    finally:
        fake.stop()
    print()
    print_table(rows, default_jobs)
    report_problems(rows)
    print()
    for _, key, r, _ in rows:
        mb = r.maxrss_kib * 1024 / 1e6
        print('Peak RSS, %s of %d photos: %.0f MiB = %.0f MB (target < 200 MB: %s)%s'
              % (SCENARIOS[key], args.rss_photos, r.maxrss_kib / 1024, mb,
                 'met' if mb < 200 else 'MISSED by %.0f MB' % (mb - 200),
                 '' if r.ok else '  [RUN FAILED]'))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--photos', type=int, default=1500,
                    help='photos in the account (default 1500: the default run stays under 5 minutes)')
    ap.add_argument('--videos', type=int, default=20)
    ap.add_argument('--albums', type=int, default=40)
    ap.add_argument('--collections', type=int, default=5)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--file-size', type=int, default=100_000,
                    help='typical photo size in bytes (each is 0.7-1.3x; video originals 2x)')
    ap.add_argument('--latency-ms', type=float, default=50,
                    help='added to every API call and (unless --file-latency-ms) every file request')
    ap.add_argument('--file-latency-ms', type=float, default=None)
    ap.add_argument('--bandwidth', type=int, default=0, help='bytes/s per response, 0 = unlimited')
    ap.add_argument('--jobs-list', default='1,DEFAULT',
                    help="comma-separated --jobs values; DEFAULT = the program's default")
    ap.add_argument('--plain-names', action='store_true', help='no hostile album / photo titles')
    ap.add_argument('--timeout', type=float, default=3600, help='seconds per program run')
    ap.add_argument('--keep', metavar='DIR', help='work in DIR and keep the mirrors')
    ap.add_argument('--rss-photos', type=int, default=0,
                    help='RSS mode instead: an account of this many photos (e.g. 100000)')
    ap.add_argument('--rss-videos', type=int, default=0)
    ap.add_argument('--rss-albums', type=int, default=200)
    ap.add_argument('--rss-file-size', type=int, default=200)
    ap.add_argument('--rss-latency-ms', type=float, default=0)
    ap.add_argument('--rss-jobs', default=DEFAULT)
    args = ap.parse_args(argv)

    if args.keep:
        work = os.path.abspath(args.keep)
        os.makedirs(work, exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix='flickrmirrorer-bench-')
    started = time.monotonic()
    try:
        if args.rss_photos:
            if args.file_latency_ms is None:
                args.file_latency_ms = args.rss_latency_ms
            rss_mode(args, work)
        else:
            bench_mode(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print('Benchmark total: %.0f s' % (time.monotonic() - started))
    return 0


if __name__ == '__main__':
    sys.exit(main())
