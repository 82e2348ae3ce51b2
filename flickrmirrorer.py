#!/usr/bin/env python3
"""flickrmirrorer: keep a complete, trustworthy local mirror of your own Flickr account.

    ./flickrmirrorer.py /mnt/backup/flickr/

The pipeline, one section of this file per stage, in data-flow order:

  1. configure  API key, endpoints (FLICKR_API_BASE), destination lock
  2. login      OAuth 1.0a through flickrapi, read-only, token cached on disk
  3. list       walk the photostream page by page (500 a page) with every extra we need,
                then the albums (photosets.getList) and the collection tree
  4. plan       compare each listed photo with what the destination holds (its .metadata
                JSON): download, refresh metadata, or nothing.  Unchanged photos cost no
                per-photo API call.
  5. act        download in parallel to temporary names, check, fsync, rename; write the
                metadata JSON atomically; rebuild album / collection symlink directories
  6. tidy       delete what is gone from Flickr (only with --delete-unknown, only after a
                complete listing, capped); drop stale album and collection directories;
                write photostream.json (the order) and the browsable HTML view
  7. report     statistics; exit status 0 all mirrored, 1 some items failed,
                2 usage / configuration / login error, 130 interrupted

--dry-run stops after the plan; --verify adds a re-hash of every file to it.

Output tree:

    dest/photostream/12345.jpg                 the original file
    dest/photostream/12345.jpg.metadata        JSON: photos.getInfo, listing extras, file hash
    dest/Not in any album/12345.jpg -> ../photostream/12345.jpg
    dest/Albums/Waterfalls - 6789/1_12346.jpg -> ../../photostream/12346.jpg
    dest/Albums/Waterfalls - 6789/metadata     JSON: the album and its photo order
    dest/Collections/Nature - 2634-98761234/Waterfalls - 6789 -> ../../Albums/Waterfalls - 6789
    dest/photostream.json, dest/index.html, dest/html/
"""

import argparse
import concurrent.futures
import configparser
import errno
import fcntl
import hashlib
import html
import html.parser
import io
import json
import logging
import os
import random
import re
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
import unicodedata
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import quote

import dateutil.parser
import flickrapi
import flickrapi.auth
import nh3
import requests
import tenacity
import tqdm

VERSION = '1.0.0'

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PAGE_SIZE = 500
# Everything the listing can tell us, so that unchanged photos need no per-photo call.
# 'views' is left out on purpose: it changes daily and would rewrite every metadata file.
# url_n is the HTML view's thumbnail (THUMB_EXTRA).
LISTING_EXTRAS = ('description,license,date_upload,date_taken,owner_name,original_format,'
                  'last_update,geo,tags,machine_tags,o_dims,media,path_alias,url_o,'
                  'count_comments,count_faves,url_n')
VOLATILE_KEYS = ('views', 'count_views')

PHOTOSTREAM_DIR = 'photostream'
ALBUMS_DIR = 'Albums'
COLLECTIONS_DIR = 'Collections'
NOT_IN_ALBUM_DIR = 'Not in any album'
METADATA_SUFFIX = '.metadata'
DIR_METADATA_NAME = 'metadata'
TMP_PREFIX = '.flickrmirrorer-tmp-'
LOCK_NAME = '.flickrmirrorer.lock'
METADATA_FORMAT = 1

MAX_NAME_BYTES = 255
DOWNLOAD_CHUNK = 1 << 20
DEFAULT_JOBS = 6
DEFAULT_MAX_CALLS_PER_HOUR = 3500
MAX_ERRORS_IN_A_ROW = 50
DELETE_SHARE_LIMIT = 0.10
DELETE_COUNT_FLOOR = 50

NO_API_KEY_HELP = (
    'No Flickr API key.  flickrmirrorer needs its own API key: create one (free, "non-commercial") '
    'at https://www.flickr.com/services/apps/create/ and pass it with --api-key KEY --api-secret '
    'SECRET, or set FLICKR_API_KEY and FLICKR_API_SECRET, or write them to %s as\n'
    '[flickr]\napi_key = KEY\napi_secret = SECRET')

# Flickr error codes (https://www.flickr.com/services/api/) and what they mean to us.
FLICKR_NOT_FOUND = 1
FLICKR_AUTH_CODES = (96, 97, 98, 99, 100)
FLICKR_TRANSIENT_CODES = (0, 105, 106)
TRANSIENT_HTTP_STATUSES = (429, 500, 502, 503, 504)


# ---------------------------------------------------------------------------
# Errors: what stops the run (with its exit status) and what only skips an item
# ---------------------------------------------------------------------------

class FatalError(Exception):
    """Stops the run with a one-line message and the given exit status."""

    def __init__(self, message, status=EXIT_PARTIAL):
        super().__init__(message)
        self.status = status


class AuthError(FatalError):
    def __init__(self, message):
        super().__init__(message, EXIT_USAGE)


class TransientError(Exception):
    """Worth retrying: the network, a 5xx, a 429, or Flickr's "service unavailable"."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class ItemError(Exception):
    """One photo cannot be mirrored now; report it, skip it, go on."""


class NotFoundError(ItemError):
    pass


class VideoUnavailable(ItemError):
    """Flickr offers no downloadable original of this video."""


# ---------------------------------------------------------------------------
# Configuration: API key, endpoints
# ---------------------------------------------------------------------------

def default_config_path():
    base = os.environ.get('XDG_CONFIG_HOME') or os.path.expanduser('~/.config')
    return os.path.join(base, 'flickrmirrorer', 'config.ini')


def find_api_credentials(args, environ):
    """The API key and secret from the flags, the environment or the config file, in that order."""
    key, secret = args.api_key, args.api_secret
    key = key or environ.get('FLICKR_API_KEY')
    secret = secret or environ.get('FLICKR_API_SECRET')
    config_path = args.config or default_config_path()
    if not (key and secret) and os.path.exists(config_path):
        parser = configparser.ConfigParser()
        try:
            parser.read(config_path, encoding='utf-8')
        except (configparser.Error, UnicodeDecodeError) as e:
            raise FatalError('Cannot read %s: %s' % (config_path, str(e).splitlines()[0]), EXIT_USAGE)
        key = key or parser.get('flickr', 'api_key', fallback=None)
        secret = secret or parser.get('flickr', 'api_secret', fallback=None)
    elif args.config and not os.path.exists(config_path):
        raise FatalError('Config file %s does not exist.' % config_path, EXIT_USAGE)
    if not (key and secret):
        raise FatalError(NO_API_KEY_HELP % config_path, EXIT_USAGE)
    return key.strip(), secret.strip()


def configure_endpoints(base):
    """Point flickrapi at another Flickr (the local emulation in tests).  Unset: the real one."""
    if not base:
        return
    base = base.rstrip('/')
    flickrapi.FlickrAPI.REST_URL = base + '/rest/'
    oauth = flickrapi.auth.OAuthFlickrInterface
    oauth.REQUEST_TOKEN_URL = base + '/oauth/request_token'
    oauth.AUTHORIZE_URL = base + '/oauth/authorize'
    oauth.ACCESS_TOKEN_URL = base + '/oauth/access_token'


# ---------------------------------------------------------------------------
# Reporting: stdout for routine status, stderr for errors, statistics
# ---------------------------------------------------------------------------

@dataclass
class Stats:
    new: int = 0
    updated: int = 0
    metadata_updated: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    albums_updated: int = 0
    collections_updated: int = 0
    verified: int = 0
    damaged: int = 0
    missing: int = 0
    api_calls: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def lines(self):
        calls = sum(self.api_calls.values())
        by_method = ', '.join('%s %d' % (m.replace('flickr.', ''), n)
                              for m, n in sorted(self.api_calls.items()))
        return [
            'New photos / videos: %d' % self.new,
            'Updated photos / videos: %d' % self.updated,
            'Updated metadata: %d' % self.metadata_updated,
            'Deleted photos / videos: %d' % self.deleted,
            'Skipped (ignored media type): %d' % self.skipped,
            'Failed: %d' % self.failed,
            'Updated albums: %d' % self.albums_updated,
            'Updated collections: %d' % self.collections_updated,
            'Downloaded: %s' % human_bytes(self.bytes),
            'API calls: %d%s' % (calls, ' (%s)' % by_method if calls else ''),
            'Elapsed: %.1f s' % (time.monotonic() - self.started),
        ]


def human_bytes(n):
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if n < 1024 or unit == 'GiB':
            return ('%d %s' if unit == 'B' else '%.1f %s') % (n, unit)
        n /= 1024.0


class Reporter:
    """Thread-safe output: info to stdout (not under -q), details under -v, errors to stderr."""

    def __init__(self, quiet=False, verbose=False, progress=False):
        self.quiet = quiet
        self.verbose = verbose
        self.show_progress = progress and not quiet
        self._bar = None
        self._lock = threading.Lock()

    def _write(self, stream, message):
        with self._lock:
            if self._bar is not None:
                self._bar.write(message, file=stream)
            else:
                stream.write(message + '\n')
                stream.flush()

    def progress_bar(self, description):
        """A tqdm bar on a terminal (count, rate, ETA); None under -q or when not a terminal,
        so that cron mail stays clean."""
        if not self.show_progress:
            return None
        self._bar = tqdm.tqdm(desc=description, unit=' photos', file=sys.stdout, dynamic_ncols=True,
                              leave=False)
        return self._bar

    def close_progress(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def info(self, message):
        if not self.quiet:
            self._write(sys.stdout, message)

    def detail(self, message):
        if self.verbose and not self.quiet:
            self._write(sys.stdout, message)

    def error(self, message):
        self._write(sys.stderr, 'Error: ' + message)

    def warning(self, message):
        self._write(sys.stderr, 'Warning: ' + message)

    def prompt(self, message):
        """Login instructions: always shown, on stderr so that stdout stays status only."""
        self._write(sys.stderr, message)


# ---------------------------------------------------------------------------
# Pacing and retries: stay under Flickr's hourly budget, ride out transient failures
# ---------------------------------------------------------------------------

class CallPacer:
    """At most `per_hour` API calls in any sliding hour; a 429 pauses everybody.

    Flickr allows about 3600 calls per hour per key.  A sliding window lets a small run go
    at full speed while a big first mirror is held to the budget."""

    def __init__(self, per_hour, clock=time.monotonic, sleep=time.sleep, window=3600.0):
        self.per_hour = per_hour
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._calls = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self):
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and self._calls[0] <= now - self.window:
                    self._calls.popleft()
                wait = self._paused_until - now
                if wait <= 0 and len(self._calls) < self.per_hour:
                    self._calls.append(now)
                    return
                if wait <= 0:
                    wait = self._calls[0] + self.window - now
            self._sleep(min(max(wait, 0.01), 60))

    def pause(self, seconds):
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


@dataclass
class RetryPolicy:
    attempts: int = 6
    initial_wait: float = 1.0
    max_wait: float = 120.0
    stop_event: threading.Event = field(default_factory=threading.Event)

    def sleep(self, seconds):
        """Wait before a retry, but wake up at once on Ctrl+C."""
        if self.stop_event.wait(seconds):
            raise KeyboardInterrupt


def retry_wait(policy):
    """Exponential backoff with jitter, or what the server's Retry-After asked for."""
    backoff = (tenacity.wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait)
               + tenacity.wait_random(0, policy.initial_wait))

    def wait(retry_state):
        exc = retry_state.outcome.exception()
        retry_after = getattr(exc, 'retry_after', None)
        if retry_after is not None:
            return min(retry_after, 3600.0) + random.uniform(0, policy.initial_wait)
        return backoff(retry_state)
    return wait


def with_retries(policy, operation, reporter, what):
    """Run `operation()` until it succeeds, retrying TransientError as the policy says."""
    def log(retry_state):
        reporter.detail('Retrying %s after: %s' % (what, retry_state.outcome.exception()))
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        wait=retry_wait(policy),
        stop=tenacity.stop_after_attempt(policy.attempts),
        before_sleep=log,
        sleep=policy.sleep,
        reraise=True)
    return retrying(operation)


def parse_retry_after(value):
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = dateutil.parser.parse(value)
            return max(0.0, when.timestamp() - time.time())
        except (ValueError, OverflowError):
            return None


def raise_for_transient_status(response, *args, **kwargs):
    """requests response hook: turn 429 and 5xx into TransientError, keeping Retry-After.

    flickrapi would otherwise collapse them into a FlickrError and lose the header."""
    if response.status_code in TRANSIENT_HTTP_STATUSES:
        raise TransientError('HTTP %d from %s' % (response.status_code, response.url.split('?')[0]),
                             parse_retry_after(response.headers.get('Retry-After')))


# ---------------------------------------------------------------------------
# Flickr API: one method per Flickr method, paced, retried, errors classified
# ---------------------------------------------------------------------------

class FlickrClient:
    """A thin wrapper around flickrapi, safe to share between worker threads.

    Each thread gets its own flickrapi object with its own connection-pooled session."""

    def __init__(self, api_key, api_secret, token, pacer, stats, policy, reporter, timeout=60):
        self.api_key = api_key
        self.api_secret = api_secret
        self.token = token
        self.pacer = pacer
        self.stats = stats
        self.policy = policy
        self.reporter = reporter
        self.timeout = timeout
        self._local = threading.local()
        self._stats_lock = threading.Lock()

    def _flickr(self):
        flickr = getattr(self._local, 'flickr', None)
        if flickr is None:
            flickr = flickrapi.FlickrAPI(self.api_key, self.api_secret, token=self.token,
                                         format='parsed-json', timeout=self.timeout)
            session = requests.Session()
            session.hooks['response'].append(raise_for_transient_status)
            flickr.flickr_oauth.session = session
            self._local.flickr = flickr
        return flickr

    def call(self, method, **params):
        """Call a Flickr method; returns the parsed JSON.  Every attempt is signed anew."""
        def attempt():
            self.pacer.acquire()
            with self._stats_lock:
                self.stats.api_calls[method] += 1
            try:
                return self._flickr().do_flickr_call(method, **params)
            except TransientError as e:
                if e.retry_after is not None:
                    self.pacer.pause(e.retry_after)
                raise
            except flickrapi.FlickrError as e:
                raise classify_flickr_error(method, e) from None
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as e:
                raise TransientError('%s: network error: %s' % (method, first_line(e))) from None
            except ValueError as e:  # malformed JSON: an HTML error page, a truncated body
                raise TransientError('%s: malformed answer from Flickr (%s)' % (method, first_line(e))) from None
        return with_retries(self.policy, attempt, self.reporter, method)

    def paged(self, method, container, item, per_page=PAGE_SIZE, on_total=None, **params):
        """Yield every item of a paged list, one page in memory at a time."""
        page = 1
        while True:
            rsp = self.call(method, page=page, per_page=per_page, **params)
            body = rsp.get(container) or {}
            items = body.get(item) or []
            if page == 1 and on_total:
                on_total(to_int(body.get('total'), None))
            yield from items
            pages = to_int(body.get('pages'), 1)
            if page >= pages or not items:
                return
            page += 1

    # One method per Flickr method we use.
    def test_login(self):
        return self.call('flickr.test.login')['user']

    def photostream(self, on_total=None):
        return self.paged('flickr.people.getPhotos', 'photos', 'photo', on_total=on_total,
                          user_id='me', extras=LISTING_EXTRAS)

    def photo_info(self, photo_id):
        return self.call('flickr.photos.getInfo', photo_id=photo_id)['photo']

    def photo_sizes(self, photo_id):
        return self.call('flickr.photos.getSizes', photo_id=photo_id)['sizes'].get('size', [])

    def photo_comments(self, photo_id):
        return self.call('flickr.photos.comments.getList', photo_id=photo_id)['comments'].get('comment', [])

    def albums(self):
        return self.paged('flickr.photosets.getList', 'photosets', 'photoset')

    def album_photo_ids(self, album_id):
        return [p['id'] for p in self.paged('flickr.photosets.getPhotos', 'photoset', 'photo',
                                             photoset_id=album_id)]

    def collection_tree(self):
        return (self.call('flickr.collections.getTree').get('collections') or {}).get('collection', [])


def classify_flickr_error(method, error):
    code = error.code
    message = '%s: %s' % (method, first_line(error))
    if code in FLICKR_TRANSIENT_CODES:
        return TransientError(message)
    if code in FLICKR_AUTH_CODES:
        return AuthError('Flickr refused the login (%s).  Log in again: run flickrmirrorer by hand '
                         'with --relogin.' % first_line(error))
    if code == FLICKR_NOT_FOUND:
        return NotFoundError(message)
    if code is None:  # flickrapi's "Status code N received": an HTTP error without a retry hint
        return TransientError(message)
    return ItemError(message)


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__


def to_int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def text_of(value):
    """Flickr text nodes come as {'_content': ...} in some answers and plain strings in others."""
    if isinstance(value, dict):
        return value.get('_content', '') or ''
    return value or ''


# ---------------------------------------------------------------------------
# Login: OAuth 1.0a with read permission, token cached by flickrapi
# ---------------------------------------------------------------------------

CONSOLE_LOGIN_PROMPT = """\
flickrmirrorer needs read access to your Flickr account.

1. Open this address in a web browser (on any computer) and log in to Flickr:
   %s
2. Click "OK, I'll authorize it".
3. Type the code Flickr shows you here and press Enter.
"""


def token_cache_dir(args):
    return os.path.abspath(os.path.expanduser(args.token_dir or '~/.flickr'))


def login(api_key, api_secret, token_dir, reporter, use_browser, relogin=False):
    """Return a cached access token, or run the OAuth flow to get one."""
    def new_flickr():
        return flickrapi.FlickrAPI(api_key, api_secret, format='parsed-json', token_cache_location=token_dir)
    try:
        flickr = new_flickr()
        if relogin:
            flickr.token_cache.forget()
            flickr = new_flickr()   # the old one signs with the forgotten token
        token = flickr.token_cache.token
    except (OSError, flickrapi.FlickrError) as e:  # includes a corrupt token database
        raise FatalError('Cannot use the token cache in %s: %s' % (token_dir, first_line(e)), EXIT_USAGE)
    if token is None:
        try:
            if use_browser:
                try:
                    flickr.authenticate_via_browser(perms='read')
                except flickrapi.FlickrError:  # no browser after all
                    console_login(flickr, reporter)
            else:
                console_login(flickr, reporter)
        except flickrapi.FlickrError as e:
            raise AuthError('Login failed: %s' % first_line(e))
        except requests.RequestException as e:
            raise AuthError('Login failed, cannot reach Flickr: %s' % first_line(e))
        token = flickr.token_cache.token
        if token is None:
            raise AuthError('Login failed: Flickr gave no token.')
        reporter.info('Logged in to Flickr as %s; the token is kept in %s.' % (token.username, token_dir))
    protect_token_files(token_dir)
    return token


def console_login(flickr, reporter):
    flickr.get_request_token(oauth_callback='oob')
    reporter.prompt(CONSOLE_LOGIN_PROMPT % flickr.auth_url(perms='read'))
    sys.stderr.write('Code: ')
    sys.stderr.flush()
    verifier = sys.stdin.readline().strip()
    if not verifier:
        raise AuthError('Not logged in: no code was typed.  Run flickrmirrorer by hand once to log in '
                        '(cron jobs reuse the token it stores).')
    flickr.get_access_token(verifier)


def browser_available():
    if os.environ.get('BROWSER'):
        return True
    if sys.platform in ('darwin', 'win32'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def protect_token_files(token_dir):
    """The token is a password: only its owner may read it."""
    try:
        os.chmod(token_dir, 0o700)
        for name in os.listdir(token_dir):
            path = os.path.join(token_dir, name)
            if os.path.isfile(path):
                os.chmod(path, 0o600)
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Destination: lock, leftover temporary files, safe names, atomic writes
# ---------------------------------------------------------------------------

def prepare_destination(dest):
    """Create the destination if missing; refuse one we cannot use."""
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise FatalError('Destination %s exists and is not a directory.' % dest, EXIT_USAGE)
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as e:
        raise FatalError('Cannot create destination %s: %s' % (dest, e.strerror), EXIT_USAGE)
    if not os.access(dest, os.W_OK | os.X_OK):
        raise FatalError('Destination %s is not writable.' % dest, EXIT_USAGE)


def lock_destination(dest):
    """One run at a time per destination.  The lock dies with the process, even on SIGKILL."""
    path = os.path.join(dest, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise FatalError('Cannot create lock file %s: %s' % (path, e.strerror), EXIT_USAGE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise FatalError('Another flickrmirrorer is already running on %s; try again when it has '
                         'finished.' % dest, EXIT_USAGE)
    os.ftruncate(fd, 0)
    os.write(fd, b'%d\n' % os.getpid())
    return fd


def remove_leftover_temp_files(dest):
    """A killed run leaves temporary files; they are never mistaken for complete ones."""
    removed = 0
    for root, dirs, files in os.walk(dest):
        for name in files + [d for d in dirs if d.startswith(TMP_PREFIX)]:
            if name.startswith(TMP_PREFIX):
                path = os.path.join(root, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
                removed += 1
        dirs[:] = [d for d in dirs if not d.startswith(TMP_PREFIX)]
    return removed


def safe_name(title, item_id):
    """A file-system-safe, unique directory name: '<title> - <id>', at most 255 bytes.

    No '/', no NUL or control characters, no leading dot (never '.' or '..'); the id
    keeps two albums with the same title apart."""
    clean = ''.join('_' if ch == '/' else ch for ch in title if ch >= ' ' and ch != '\x7f')
    clean = clean.strip().lstrip('.').strip() or 'Untitled'
    suffix = ' - %s' % item_id
    budget = MAX_NAME_BYTES - len(suffix.encode('utf-8'))
    encoded = clean.encode('utf-8')
    if len(encoded) > budget:
        clean = encoded[:budget].decode('utf-8', 'ignore').rstrip()
    return clean + suffix


ALBUM_NAME_RE = re.compile(r' - (\d+)$')
COLLECTION_NAME_RE = re.compile(r' - (\d+-\d+)$')


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Write through `write(file)` to a temporary name in the same directory, fsync, rename:
    a file at its final name is always complete.  Returns what `write` returned."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            result = write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try_unlink(tmp)
        raise
    fsync_dir(directory)
    return result


def atomic_write_bytes(path, data):
    atomic_write(path, lambda f: f.write(data))


def json_bytes(data):
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + '\n').encode('utf-8')


def write_file_if_changed(path, data):
    """Rewrite a file only when its content changes (keeps mtimes and disks quiet)."""
    try:
        with open(path, 'rb') as f:
            if f.read() == data:
                return False
    except OSError:
        pass
    atomic_write_bytes(path, data)
    return True


def write_chunks_if_changed(path, chunks):
    """write_file_if_changed for content too big to hold twice in memory: the chunks go to a
    temporary file, which replaces the old one only when their SHA-256 differs."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
    new = hashlib.sha256()
    try:
        with os.fdopen(fd, 'wb') as f:
            for chunk in chunks:
                new.update(chunk)
                f.write(chunk)
            f.flush()
            old = hashlib.sha256()
            try:
                with open(path, 'rb') as current:
                    for block in iter(lambda: current.read(DOWNLOAD_CHUNK), b''):
                        old.update(block)
            except OSError:
                old = None
            if old is not None and old.digest() == new.digest():
                try_unlink(tmp)
                return False
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try_unlink(tmp)
        raise
    fsync_dir(directory)
    return True


def write_json_if_changed(path, data):
    return write_file_if_changed(path, json_bytes(data))


def read_json(path):
    """The parsed file, or None when it is missing or unreadable (then it is rewritten)."""
    try:
        with open(path, 'rb') as f:
            return json.loads(f.read().decode('utf-8'))
    except (OSError, ValueError):
        return None


def try_unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def atomic_symlink(target, path):
    """Create or retarget a symlink without a moment where it is missing or wrong."""
    if os.path.islink(path) and os.readlink(path) == target:
        return False
    tmp = os.path.join(os.path.dirname(path), TMP_PREFIX + 'link-%d-%d' % (os.getpid(), threading.get_ident()))
    try_unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, path)
    return True


# ---------------------------------------------------------------------------
# Local state: what the destination already holds
# ---------------------------------------------------------------------------

PHOTO_FILE_RE = re.compile(r'^(\d+)\.[^./]+$')


def scan_photostream(photostream_dir, find_orphans=False):
    """(photo id -> media file name, ids whose .metadata has lost its media file), from one
    scandir of photostream/ and no file reads.  Orphans are looked for only on request
    (--verify reports them): the set costs memory on a big mirror."""
    files = {}
    metadata_ids = set()
    try:
        entries = os.scandir(photostream_dir)
    except FileNotFoundError:
        return files, set()
    with entries:
        for entry in entries:
            name = entry.name
            is_metadata = name.endswith(METADATA_SUFFIX)
            match = PHOTO_FILE_RE.match(name[:-len(METADATA_SUFFIX)] if is_metadata else name)
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            if is_metadata:
                if find_orphans:
                    metadata_ids.add(match.group(1))
            else:
                files[match.group(1)] = name
    return files, metadata_ids - set(files)


def metadata_path_for(photostream_dir, filename):
    return os.path.join(photostream_dir, filename + METADATA_SUFFIX)


@dataclass
class StoredPhoto:
    """What a .metadata file says about its photo; legacy files (the original flickrmirrorer
    stored the listing record itself) are read too."""
    originalsecret: str = None
    lastupdate: str = None
    listing: dict = None
    info: dict = None
    comments: list = None
    file: dict = None
    legacy: bool = False

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict):
            return None
        if 'flickrmirrorer' not in data:
            return cls(originalsecret=data.get('originalsecret'), lastupdate=data.get('lastupdate'),
                       legacy=True)
        listing = data.get('listing') or {}
        return cls(originalsecret=listing.get('originalsecret'), lastupdate=listing.get('lastupdate'),
                   listing=listing, info=data.get('photo'), comments=data.get('comments'),
                   file=data.get('file'))


# ---------------------------------------------------------------------------
# Plan: what each listed photo needs
# ---------------------------------------------------------------------------

@dataclass
class PhotoTask:
    record: dict                 # the listing record (people.getPhotos with extras)
    filename: str = None         # the current local media file, if any
    stored: StoredPhoto = None
    need_file: bool = False
    need_info: bool = False
    need_comments: bool = False
    verify: bool = False

    @property
    def photo_id(self):
        return self.record['id']


def strip_volatile(record):
    return {k: v for k, v in record.items() if k not in VOLATILE_KEYS}


def plan_photo(record, filename, stored):
    """Decide what a listed photo needs; None when the mirror already holds it as it is."""
    listing = strip_volatile(record)
    task = PhotoTask(record=listing, filename=filename, stored=stored)
    secret = listing.get('originalsecret')
    if filename is None or stored is None:
        task.need_file = True
    elif stored.originalsecret and secret and stored.originalsecret != secret:
        task.need_file = True   # the photo was replaced on Flickr
    task.need_info = (task.need_file or stored is None or stored.legacy or stored.info is None
                      or str(stored.lastupdate) != str(listing.get('lastupdate')))
    # Comments do not change lastupdate; their count in the listing tells when to re-read them.
    comment_count = to_int(listing.get('count_comments'))
    stored_count = len(stored.comments) if stored and stored.comments else 0
    task.need_comments = comment_count > 0 and comment_count != stored_count
    if not (task.need_file or task.need_info or task.need_comments) and stored.listing == listing:
        return None
    return task


def wanted_media(record, args):
    media = record.get('media', 'photo')
    return not (media == 'video' and args.ignore_videos or media != 'video' and args.ignore_photos)


# ---------------------------------------------------------------------------
# Act: download originals, write metadata
# ---------------------------------------------------------------------------

VIDEO_EXTENSIONS = {'video/mp4': 'mp4', 'video/quicktime': 'mov', 'video/x-msvideo': 'avi',
                    'video/mpeg': 'mpg', 'video/x-m4v': 'm4v', 'video/3gpp': '3gp',
                    'video/webm': 'webm', 'video/x-ms-wmv': 'wmv', 'video/x-flv': 'flv'}


class Downloader:
    """Streams one URL to a file in chunks: temporary name, size check, hash, fsync, rename."""

    def __init__(self, policy, reporter, stop_event, timeout=(15, 120)):
        self.policy = policy
        self.reporter = reporter
        self.stop_event = stop_event
        self.timeout = timeout
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers['User-Agent'] = 'flickrmirrorer/%s' % VERSION
        return session

    def fetch(self, url, directory, name_for):
        """Download `url` into `directory` under the name `name_for(response)` returns.
        Returns (name, size, sha256)."""
        return with_retries(self.policy, lambda: self._fetch_once(url, directory, name_for),
                            self.reporter, url)

    def _fetch_once(self, url, directory, name_for):
        try:
            response = self._session().get(url, stream=True, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as e:
            raise TransientError('download of %s failed: %s' % (url, first_line(e))) from None
        with response:
            if response.status_code in TRANSIENT_HTTP_STATUSES:
                raise TransientError('HTTP %d for %s' % (response.status_code, url),
                                     parse_retry_after(response.headers.get('Retry-After')))
            if response.status_code != 200:
                raise ItemError('HTTP %d for %s' % (response.status_code, url))
            if response.headers.get('Content-Type', '').split(';')[0].strip().lower() == 'text/html':
                # a proxy's or Flickr's error page with status 200: never keep it as a photo
                raise TransientError('%s answered with an HTML page instead of the file' % url)
            name = name_for(response)
            expected = to_int(response.headers.get('Content-Length'), None)
            size, digest = self._stream_to(response, os.path.join(directory, name), expected, url)
        return name, size, digest

    def _stream_to(self, response, path, expected, url):
        return atomic_write(path, lambda f: self._copy_body(response, f, expected, url))

    def _copy_body(self, response, f, expected, url):
        """Copy the body in chunks, hashing it; a short or empty body is an error, not a file."""
        sha = hashlib.sha256()
        size = 0
        try:
            for chunk in response.iter_content(DOWNLOAD_CHUNK):
                if self.stop_event.is_set():
                    raise KeyboardInterrupt
                f.write(chunk)
                sha.update(chunk)
                size += len(chunk)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
            raise TransientError('download of %s broke off after %d bytes: %s' % (url, size, first_line(e))) from None
        if expected is not None and size != expected:
            raise TransientError('download of %s is truncated: %d of %d bytes' % (url, size, expected))
        if size == 0:
            raise TransientError('download of %s is empty' % url)
        return size, sha.hexdigest()


def photo_file_name(photo_id, record):
    return '%s.%s' % (photo_id, (record.get('originalformat') or 'jpg').lower())


def video_file_name(photo_id, response):
    """Flickr gives no extension for videos: take it from the final URL or the Content-Type."""
    path = requests.utils.urlparse(response.url).path
    ext = os.path.splitext(path)[1].lstrip('.').lower()
    if not re.match(r'^[a-z0-9]{2,5}$', ext):
        content_type = response.headers.get('Content-Type', '').split(';')[0].strip()
        ext = VIDEO_EXTENSIONS.get(content_type, 'mp4')
    return '%s.%s' % (photo_id, ext)


def original_url(client, task):
    """Where the original lives: url_o for photos, 'Video Original' for videos."""
    record = task.record
    if record.get('media') == 'video':
        for size in client.photo_sizes(task.photo_id):
            if size.get('label') == 'Video Original' and size.get('source'):
                return size['source']
        raise VideoUnavailable('Flickr offers no original file for video %s' % task.photo_id)
    if record.get('url_o'):
        return record['url_o']
    for size in client.photo_sizes(task.photo_id):
        if size.get('label') == 'Original' and size.get('source'):
            return size['source']
    raise ItemError('Flickr offers no original file for photo %s' % task.photo_id)


def photo_page_url(record, info=None):
    for url in ((info or {}).get('urls') or {}).get('url', []):
        if url.get('type') == 'photopage':
            return text_of(url)
    return 'https://www.flickr.com/photos/%s/%s/' % (record.get('owner') or 'me', record['id'])


def taken_timestamp(record):
    """The photo's date taken as a local-time epoch, falling back to the upload date."""
    taken = record.get('datetaken')
    if taken and str(record.get('datetakenunknown', '0')) != '1':
        try:
            return time.mktime(dateutil.parser.parse(taken).timetuple())
        except (ValueError, OverflowError):
            pass
    upload = to_int(record.get('dateupload'), None)
    return float(upload) if upload else None


class PhotoMirror:
    """Does what the plan says for one photo; safe to run in many threads at once."""

    def __init__(self, photostream_dir, client, downloader, stats, reporter):
        self.dir = photostream_dir
        self.client = client
        self.downloader = downloader
        self.stats = stats
        self.reporter = reporter
        self._lock = threading.Lock()

    def _count(self, **increments):
        with self._lock:
            for name, n in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    def _intact(self, task):
        """--verify: does the file still hash to what was recorded when it was written?"""
        actual = describe_file(os.path.join(self.dir, task.filename))
        self._count(verified=1)
        recorded = task.stored.file if task.stored else None
        if not recorded or recorded.get('name') != task.filename:
            return True   # nothing recorded (an adopted file): record it now
        if (actual['size'], actual['sha256']) == (recorded.get('size'), recorded.get('sha256')):
            return True
        self._count(damaged=1)
        self.reporter.warning('%s is damaged (its SHA-256 changed since it was downloaded); '
                              'downloading it again' % task.filename)
        return False

    def _original_url(self, task):
        try:
            return original_url(self.client, task)
        except VideoUnavailable:
            if task.filename:   # the user downloaded it by hand, as we asked: adopt it
                return None
            raise

    def run(self, task):
        """Returns the media file name now in photostream/."""
        photo_id = task.photo_id
        record = task.record
        filename = task.filename
        file_info = task.stored.file if task.stored else None
        if task.verify and filename and not task.need_file and not self._intact(task):
            task.need_file = task.need_info = True   # repair: fetch it again
        url = self._original_url(task) if task.need_file else None
        if url:
            is_video = record.get('media') == 'video'
            name, size, digest = self.downloader.fetch(
                url, self.dir,
                (lambda r: video_file_name(photo_id, r)) if is_video else (lambda r: photo_file_name(photo_id, record)))
            if filename and filename != name:   # e.g. a legacy '.mov' for what is now '.mp4'
                try_unlink(os.path.join(self.dir, filename))
                try_unlink(metadata_path_for(self.dir, filename))
            self._count(new=0 if filename else 1, updated=1 if filename else 0, bytes=size)
            self.reporter.detail('%s %s (%s)' % ('Updated' if filename else 'Downloaded', name, human_bytes(size)))
            filename = name
            file_info = {'name': name, 'size': size, 'sha256': digest}
        elif file_info is None or file_info.get('name') != filename:
            file_info = describe_file(os.path.join(self.dir, filename))
        info = self.client.photo_info(photo_id) if task.need_info else task.stored.info
        comments = task.stored.comments if task.stored else None
        if task.need_comments:
            comments = self.client.photo_comments(photo_id)
        elif to_int(record.get('count_comments')) == 0:
            comments = None
        # The file's time first: the metadata written last marks the photo as done.
        set_mtime(os.path.join(self.dir, filename), taken_timestamp(record))
        metadata = build_photo_metadata(record, info, comments, file_info)
        changed = write_json_if_changed(metadata_path_for(self.dir, filename), metadata)
        if changed and not task.need_file:
            self._count(metadata_updated=1)
        return filename


def describe_file(path):
    sha = hashlib.sha256()
    size = 0
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(DOWNLOAD_CHUNK), b''):
            sha.update(chunk)
            size += len(chunk)
    return {'name': os.path.basename(path), 'size': size, 'sha256': sha.hexdigest()}


def build_photo_metadata(record, info, comments, file_info):
    metadata = {
        'flickrmirrorer': {'format': METADATA_FORMAT},
        'photo': strip_volatile(info or {}),
        'listing': record,
        'file': file_info,
    }
    if comments:
        metadata['comments'] = comments
    return metadata


def set_mtime(path, timestamp):
    if timestamp is None:
        return
    try:
        if os.stat(path).st_mtime != timestamp:
            os.utime(path, (timestamp, timestamp))
    except (OSError, OverflowError, ValueError):
        pass


# ---------------------------------------------------------------------------
# Albums, "Not in any album" and collections: directories of relative symlinks
# ---------------------------------------------------------------------------

def dirs_by_id(parent, pattern):
    """Map item id -> existing directory name, recognised by the ' - <id>' suffix."""
    found = {}
    try:
        entries = list(os.scandir(parent))
    except FileNotFoundError:
        return found
    for entry in entries:
        match = pattern.search(entry.name)
        if match and entry.is_dir(follow_symlinks=False):
            found[match.group(1)] = entry.name
    return found


def place_dir(parent, existing_name, wanted_name):
    """Rename an item's directory when its title changed; create it when new."""
    wanted = os.path.join(parent, wanted_name)
    if existing_name and existing_name != wanted_name:
        if os.path.lexists(wanted):
            remove_our_dir(wanted)
        os.rename(os.path.join(parent, existing_name), wanted)
    os.makedirs(wanted, exist_ok=True)
    return wanted


def sync_links(directory, wanted, reporter, keep=(DIR_METADATA_NAME,)):
    """Make `directory` hold exactly the symlinks in `wanted` (name -> target).  Our other
    links go; files and directories we did not make stay (and are reported).  Returns
    True when anything changed."""
    changed = False
    for entry in list(os.scandir(directory)):
        if entry.name in wanted or entry.name in keep:
            continue
        if entry.is_symlink():
            os.unlink(entry.path)
            changed = True
        elif entry.is_file(follow_symlinks=False) and not entry.name.startswith(TMP_PREFIX):
            reporter.detail('Leaving %s alone: flickrmirrorer did not make it' % entry.path)
    for name, target in wanted.items():
        path = os.path.join(directory, name)
        if os.path.lexists(path) and not os.path.islink(path):
            reporter.warning('%s is in the way of a link; left it alone' % path)
            continue
        changed |= atomic_symlink(target, path)
    return changed


def remove_our_dir(path):
    """Remove a directory of ours (symlinks, our metadata, subdirectories of the same kind).
    Anything else in it is kept, and so is the directory then."""
    for entry in list(os.scandir(path)):
        if entry.is_symlink() or entry.name == DIR_METADATA_NAME or entry.name.startswith(TMP_PREFIX):
            os.unlink(entry.path)
        elif entry.is_dir(follow_symlinks=False) and COLLECTION_NAME_RE.search(entry.name):
            remove_our_dir(entry.path)
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


def album_link_names(photo_ids, files):
    """Album member links, numbered in album order: '01_12345.jpg' -> photostream file."""
    present = [files[p] for p in photo_ids if files.get(p)]
    digits = len(str(len(present)))
    return [('%s_%s' % (str(i + 1).zfill(digits), name), name) for i, name in enumerate(present)]


class TreeBuilder:
    """Builds Albums/, 'Not in any album/' and Collections/ from the listings."""

    def __init__(self, dest, client, stats, reporter):
        self.dest = dest
        self.albums_dir = os.path.join(dest, ALBUMS_DIR)
        self.collections_dir = os.path.join(dest, COLLECTIONS_DIR)
        self.client = client
        self.stats = stats
        self.reporter = reporter
        self.album_dir_names = {}   # album id -> directory name under Albums/

    # -- albums --
    def list_albums(self):
        """[(album record, [photo ids in order])]; photosets.getPhotos only for albums that
        changed since the last run (their date_update tells)."""
        existing = dirs_by_id(self.albums_dir, ALBUM_NAME_RE)
        result = []
        for album in self.client.albums():
            album = strip_volatile(album)
            stored = None
            if album['id'] in existing:
                stored = read_json(os.path.join(self.albums_dir, existing[album['id']], DIR_METADATA_NAME))
            photo_ids = stored_album_order(stored, album)
            if photo_ids is None:
                try:
                    photo_ids = self.client.album_photo_ids(album['id'])
                except NotFoundError:   # deleted on Flickr while we were listing
                    continue
            result.append((album, photo_ids))
        return result

    def build_albums(self, albums, files):
        os.makedirs(self.albums_dir, exist_ok=True)
        existing = dirs_by_id(self.albums_dir, ALBUM_NAME_RE)
        for album, photo_ids in albums:
            title = text_of(album.get('title'))
            name = safe_name(title, album['id'])
            path = place_dir(self.albums_dir, existing.pop(album['id'], None), name)
            self.album_dir_names[album['id']] = name
            wanted = {link: os.path.join('..', '..', PHOTOSTREAM_DIR, target)
                      for link, target in album_link_names(photo_ids, files)}
            changed = sync_links(path, wanted, self.reporter)
            metadata = {'flickrmirrorer': {'format': METADATA_FORMAT}, 'photoset': album, 'photos': photo_ids}
            changed |= write_json_if_changed(os.path.join(path, DIR_METADATA_NAME), metadata)
            if changed:
                self.stats.albums_updated += 1
                self.reporter.detail('Updated album %s' % name)
        for stale in existing.values():   # deleted on Flickr
            self.reporter.detail('Removing album %s (no longer on Flickr)' % stale)
            if not remove_our_dir(os.path.join(self.albums_dir, stale)):
                self.reporter.warning('Kept %s: it holds files flickrmirrorer did not make'
                                      % os.path.join(self.albums_dir, stale))

    def report_album_changes(self, albums, files):
        """--dry-run: name the albums whose directory would change."""
        existing = dirs_by_id(self.albums_dir, ALBUM_NAME_RE)
        for album, photo_ids in albums:
            name = safe_name(text_of(album.get('title')), album['id'])
            path = os.path.join(self.albums_dir, name)
            wanted = {link for link, _ in album_link_names(photo_ids, files)}
            current = set(os.listdir(path)) - {DIR_METADATA_NAME} if existing.get(album['id']) == name else None
            if current != wanted:
                self.stats.albums_updated += 1
                self.reporter.info('would update album %s' % name)
        for stale_id, stale in existing.items():
            if stale_id not in {album['id'] for album, _ in albums}:
                self.reporter.info('would remove album %s' % stale)

    def build_not_in_album(self, photostream_ids, albums, files):
        in_albums = set()
        for _, photo_ids in albums:
            in_albums.update(photo_ids)
        path = os.path.join(self.dest, NOT_IN_ALBUM_DIR)
        os.makedirs(path, exist_ok=True)
        wanted = {files[p]: os.path.join('..', PHOTOSTREAM_DIR, files[p])
                  for p in photostream_ids if p not in in_albums and files.get(p)}
        sync_links(path, wanted, self.reporter, keep=())

    # -- collections --
    def build_collections(self, tree):
        os.makedirs(self.collections_dir, exist_ok=True)
        self._build_collection_level(self.collections_dir, tree, depth=1)

    def _build_collection_level(self, parent, collections, depth):
        existing = dirs_by_id(parent, COLLECTION_NAME_RE)
        wanted_names = set()
        for collection in collections:
            name = safe_name(text_of(collection.get('title')), collection['id'])
            wanted_names.add(name)
            path = place_dir(parent, existing.pop(collection['id'], None), name)
            children = []
            links = {}
            for album in collection.get('set') or []:
                album_name = self.album_dir_names.get(album['id']) or safe_name(text_of(album.get('title')), album['id'])
                links[album_name] = os.path.join(*(['..'] * (depth + 1)), ALBUMS_DIR, album_name)
                children.append({'type': 'album', 'id': album['id'], 'title': text_of(album.get('title'))})
            for sub in collection.get('collection') or []:
                children.append({'type': 'collection', 'id': sub['id'], 'title': text_of(sub.get('title'))})
            changed = sync_links(path, links, self.reporter)
            self._build_collection_level(path, collection.get('collection') or [], depth + 1)
            record = {k: v for k, v in collection.items() if k not in ('set', 'collection')}
            metadata = {'flickrmirrorer': {'format': METADATA_FORMAT}, 'collection': record, 'children': children}
            changed |= write_json_if_changed(os.path.join(path, DIR_METADATA_NAME), metadata)
            if changed:
                self.stats.collections_updated += 1
                self.reporter.detail('Updated collection %s' % name)
        for stale in existing.values():
            if not remove_our_dir(os.path.join(parent, stale)):
                self.reporter.warning('Kept %s: it holds files flickrmirrorer did not make'
                                      % os.path.join(parent, stale))


def stored_album_order(stored, album):
    """The album's photo order from the last run, if the album has not changed since."""
    if not isinstance(stored, dict) or not isinstance(stored.get('photos'), list):
        return None
    old = stored.get('photoset') or stored   # the original flickrmirrorer stored the record itself
    if str(old.get('date_update')) != str(album.get('date_update')):
        return None
    count = to_int(album.get('photos')) + to_int(album.get('videos'))
    if count != len(stored['photos']):
        return None
    return [str(p) for p in stored['photos']]


# ---------------------------------------------------------------------------
# Browsable HTML view: dest/index.html and a page per album and collection
# ---------------------------------------------------------------------------
# Opened straight from disk (file://), maybe after the folder was copied elsewhere: every
# link is relative and percent-encoded, nothing is loaded from the network.  Only the search
# page runs a script (its own, from html/); every other page forbids scripts outright.
# Page names depend on ids, never on titles, so a renamed album rewrites its page.
#
#     dest/index.html                   collections (nested) and albums with covers
#     dest/html/style.css               the only stylesheet
#     dest/html/album-<id>.html         an album, photos in album order (.page<n> beyond 500)
#     dest/html/collection-<id>.html    a collection: sub-collections and albums
#     dest/html/photostream-<n>.html    every photo, photostream order, 500 a page
#     dest/html/not-in-any-album.html   photos in no album
#     dest/html/photo-<id>.html         one photo: the original, its words, albums, comments
#     dest/html/search.html             search box; search.js over search-index.js
#     dest/html/thumbs/<id>-<hash>.jpg  Flickr's 320-pixel size: grids never load originals

HTML_PAGE_SIZE = 500
HTML_DIR = 'html'
THUMBS_DIR = 'thumbs'
# Flickr's "Small 320" size, from the listing (url_n costs no API call).  320 px fills a
# grid cell; 100 of them weigh about 3-4 MB where the originals weigh gigabytes.  For videos
# it is the poster frame.
THUMB_EXTRA = 'url_n'
THUMB_MAX_SIDE = 320
# An original this small (no Flickr size exists below it) is its own thumbnail.
SMALL_ORIGINAL_BYTES = 100 * 1024
# Only files matching these are ever deleted from dest/html/ (never a user's own files).
OUR_PAGE_RE = re.compile(r'^(?:album-[\w-]+(?:\.page\d+)?|collection-[\w-]+|photostream-\d+'
                         r'|not-in-any-album(?:\.page\d+)?|photo-[\w-]+)\.html$', re.ASCII)
OUR_THUMB_RE = re.compile(r'^[\w-]+-[0-9a-f]{12}\.jpg$', re.ASCII)
# The HTML Flickr allows in descriptions and comments; everything else is removed by nh3
# (scripts with their content, event handlers, javascript: links, styles, images).
FLICKR_HTML_TAGS = {'a', 'abbr', 'acronym', 'b', 'blockquote', 'br', 'cite', 'code', 'del', 'em',
                    'i', 'ins', 'q', 's', 'strike', 'strong', 'sub', 'sup', 'tt', 'u'}
FLICKR_HTML_ATTRIBUTES = {'a': {'href', 'title'}, 'abbr': {'title'}, 'acronym': {'title'}}
# What XML 1.0 cannot carry and the C0/C1 controls a page or a photo manager would show as
# junk (tab and newline stay: descriptions have lines).
_NOT_TEXT_RE = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]')

# -- small helpers

def clean_text(text):
    """Text without control characters (NUL included) or what XML cannot hold."""
    return _NOT_TEXT_RE.sub('', text or '').replace('\r\n', '\n').replace('\r', '\n')


def esc(text):
    """HTML-escape text (quotes too: the same helper is used inside attributes)."""
    return html.escape(clean_text(text), quote=True)


class _TextOfHTML(html.parser.HTMLParser):
    """Flickr's description HTML as plain text: tags dropped, line breaks kept, a link's
    address written after its text when the text does not already show it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == 'br':
            self.parts.append('\n')
        elif tag == 'a':
            self.links.append((dict(attrs).get('href') or '', len(self.parts)))

    def handle_endtag(self, tag):
        if tag == 'a' and self.links:
            href, start = self.links.pop()
            shown = ''.join(self.parts[start:])
            if href and href not in shown:
                self.parts.append(' (%s)' % href)

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(markup):
    parser = _TextOfHTML()
    parser.feed(markup or '')
    parser.close()
    return clean_text(''.join(parser.parts)).strip()


def rich_text(markup):
    """Flickr's description or comment HTML as Flickr shows it: its few inline tags kept,
    everything executable removed, links opened without handing over this page."""
    return nh3.clean(clean_text(markup).strip(), tags=FLICKR_HTML_TAGS, attributes=FLICKR_HTML_ATTRIBUTES,
                     url_schemes={'http', 'https', 'mailto'}, link_rel='nofollow noopener noreferrer')


def title_of(item):
    return (item.get('title') or '').strip() or 'Untitled'


def url_path(path):
    """Percent-encode each segment of a relative '/'-separated path for href/src."""
    return '/'.join(quote(seg, safe='') for seg in path.split('/'))


def to_page(root, name):
    """href from a page at depth root ('' or '../') to a page in dest/html/."""
    return (HTML_DIR + '/' if root == '' else '') + url_path(name)


def page_id(item_id):
    """An id as used in a file name; Flickr ids are digits (collections 'N-M')."""
    return re.sub(r'[^0-9A-Za-z_-]', '_', str(item_id))


def plural(n, word):
    return '%d %s%s' % (n, word, '' if n == 1 else 's')


def safe_relpath(rel):
    """The photo's path inside dest, or None if it could point outside it."""
    if not rel or rel.startswith('/') or '\\' in rel or '..' in rel.split('/'):
        return None
    return rel


# -- image sizes

def image_size(path):
    """(width, height) as displayed, from the file header; None if unknown.

    Only a few hundred bytes are read (JPEG segments are skipped by seeking), so this
    stays cheap for 100,000 photos."""
    try:
        with open(path, 'rb') as f:
            head = f.read(26)
            if head.startswith(b'\x89PNG\r\n\x1a\n') and head[12:16] == b'IHDR':
                return struct.unpack('>II', head[16:24])
            if head[:6] in (b'GIF87a', b'GIF89a'):
                return struct.unpack('<HH', head[6:10])
            if head.startswith(b'\xff\xd8'):
                f.seek(2)
                return _jpeg_size(f)
    except (OSError, struct.error):
        pass
    return None


# JPEG start-of-frame markers (C4, C8, CC are other things).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(f):
    orientation = 1
    while True:
        byte = f.read(1)
        if byte != b'\xff':
            return None
        marker = f.read(1)
        while marker == b'\xff':  # fill bytes
            marker = f.read(1)
        if not marker:
            return None
        m = marker[0]
        if m == 0x01 or 0xD0 <= m <= 0xD8:  # markers without a length
            continue
        if m in (0xD9, 0xDA):  # end of image / start of scan before any frame
            return None
        (length,) = struct.unpack('>H', f.read(2))
        if m in _SOF:
            _, h, w = struct.unpack('>BHH', f.read(5))
            # EXIF orientations 5-8 are displayed rotated by 90 degrees.
            return (h, w) if orientation >= 5 else (w, h)
        if m == 0xE1 and length > 8:
            data = f.read(length - 2)
            orientation = _exif_orientation(data) or orientation
        else:
            f.seek(length - 2, os.SEEK_CUR)


def _exif_orientation(data):
    """The orientation tag (0x0112) of IFD0 in an APP1 'Exif' segment, or None."""
    if not data.startswith(b'Exif\0\0') or len(data) < 14:
        return None
    tiff = data[6:]
    order = {b'II': '<', b'MM': '>'}.get(tiff[:2])
    if order is None:
        return None
    try:
        (ifd,) = struct.unpack(order + 'I', tiff[4:8])
        (count,) = struct.unpack(order + 'H', tiff[ifd:ifd + 2])
        for i in range(count):
            entry = tiff[ifd + 2 + 12 * i:ifd + 14 + 12 * i]
            tag, typ, _, value = struct.unpack(order + 'HHIH', entry[:10])
            if tag == 0x0112 and typ == 3:
                return value
    except struct.error:
        return None
    return None


# -- the model

class View:
    """What every page needs, computed once: lookups, cover choice, image sizes."""

    def __init__(self, dest, photos, albums, collections, page_size, details=None):
        self.dest = dest
        self.page_size = max(1, int(page_size))
        self.photos = photos
        self.by_id = {p['id']: p for p in photos}
        self.albums = albums
        self.album_by_id = {a['id']: a for a in albums}
        self.collections = collections
        self._media = {}  # photo id -> (relpath or None, width, height)
        self.details = details or (lambda pid: {})

    def media(self, photo):
        """(relative path, width, height) of a photo's file on disk; path None if missing."""
        pid = photo['id']
        if pid not in self._media:
            rel = safe_relpath(photo.get('file'))
            w = h = None
            if rel:
                full = os.path.join(self.dest, *rel.split('/'))
                if not os.path.isfile(full):
                    rel = None
                elif photo.get('width') and photo.get('height'):
                    w, h = int(photo['width']), int(photo['height'])
                elif photo.get('media') != 'video':
                    w, h = image_size(full) or (None, None)
            self._media[pid] = (rel, w, h)
        return self._media[pid]

    def grid_image(self, photo):
        """(path relative to dest, width, height) of the small image grids show, or None:
        its thumbnail, or an original too small to have one.  Never a large original.
        Not cached (a stat is cheap; 100,000 cached answers are not), and a thumbnail's
        size is not read: grid cells have a fixed shape."""
        thumb = safe_relpath(photo.get('thumb'))
        if thumb and os.path.isfile(os.path.join(self.dest, *thumb.split('/'))):
            return thumb, None, None
        rel, w, h = self.media(photo)
        if rel and photo.get('media') != 'video' and w and h and max(w, h) <= THUMB_MAX_SIDE:
            try:
                if os.path.getsize(os.path.join(self.dest, *rel.split('/'))) <= SMALL_ORIGINAL_BYTES:
                    return rel, w, h
            except OSError:
                pass
        return None

    def first_image(self, photo_ids):
        """The first of photo_ids that has a grid image (a video's is its poster)."""
        for pid in photo_ids:
            photo = self.by_id.get(pid)
            if photo and self.grid_image(photo):
                return photo
        return None

    def album_cover(self, album):
        """The album's primary photo, else its first photo."""
        return self.first_image([album.get('primary')] + list(album.get('photo_ids', [])))

    def collection_cover(self, coll):
        for aid in coll.get('album_ids', []):
            album = self.album_by_id.get(aid)
            cover = album and self.album_cover(album)
            if cover:
                return cover
        for child in coll.get('children', []):
            cover = self.collection_cover(child)
            if cover:
                return cover
        return None

    def media_counts(self, photo_ids):
        videos = sum(1 for pid in photo_ids if self.by_id.get(pid, {}).get('media') == 'video')
        parts = [plural(len(photo_ids) - videos, 'photo')]
        if videos:
            parts.append(plural(videos, 'video'))
        return ', '.join(parts)


# -- page pieces
# Every function returns a list of strings (or extends one) so that pages are built by
# one ''.join at the end: linear in the number of photos.

def page_head(title, root, scripts=()):
    """root: '' for dest/index.html, '../' for pages in dest/html/.  scripts: our own script
    files in dest/html/ (the search page's); every other page may run none at all."""
    # Defence in depth: all text is escaped or sanitized, and only the search page runs
    # scripts, its own files only ('self'; never inline).
    policy = "script-src 'self'" if scripts else "script-src 'none'"
    out = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta http-equiv="Content-Security-Policy" content="%s; object-src \'none\'">\n' % policy,
        '<title>', esc(title), ' \u2013 Flickr backup</title>\n',
        '<link rel="stylesheet" href="', to_page(root, 'style.css'), '">\n']
    out.extend('<script defer src="%s"></script>\n' % to_page(root, name) for name in scripts)
    out.extend([
        '</head>\n<body>\n',
        '<header class="site"><a class="home" href="', root, 'index.html">Flickr backup</a>',
        '<nav><a href="', to_page(root, photostream_page(1)), '">Photostream</a>',
        '<a href="', to_page(root, orphan_page(1)), '">Not in any album</a></nav>',
        # A plain form: it opens the search page with ?q=, which reads it.
        '<form class="search" role="search" action="', to_page(root, SEARCH_PAGE), '">',
        '<input type="search" name="q" placeholder="Search titles, tags, albums" aria-label="Search"></form>',
        '</header>\n<main>\n',
    ])
    return out


PAGE_FOOT = '</main>\n</body>\n</html>\n'


def heading(out, title, description=None, count=None, crumbs=()):
    """crumbs: (href, label) pairs shown above the title."""
    if crumbs:
        out.append('<nav class="crumbs">')
        out.append(' \u203a '.join('<a href="%s">%s</a>' % (esc(h), esc(t)) for h, t in crumbs))
        out.append('</nav>\n')
    out.extend(('<h1>', esc(title), '</h1>\n'))
    if count:
        out.extend(('<p class="count">', esc(count), '</p>\n'))
    description = rich_text(description)
    if description:
        out.extend(('<p class="desc">', description, '</p>\n'))


def img_tag(view, photo, root, alt, cls=''):
    """The photo's grid image (a thumbnail; see View.grid_image)."""
    rel, w, h = view.grid_image(photo)
    size = ' width="%d" height="%d"' % (w, h) if w and h else ''
    return '<img%s src="%s%s" alt="%s" loading="lazy" decoding="async"%s>' % (
        ' class="%s"' % cls if cls else '', root, esc(url_path(rel)), esc(alt), size)


def cover_card(view, href, title, count, cover, root):
    """One tile of an album/collection grid."""
    if cover:
        pic = img_tag(view, cover, root, '')
    else:
        pic = '<span class="nocover">No preview</span>'
    return ('<li class="card"><a href="%s"><span class="thumb">%s</span>'
            '<span class="name">%s</span><span class="meta">%s</span></a></li>\n'
            % (esc(href), pic, esc(title), esc(count)))


def album_grid(out, view, album_ids, root):
    out.append('<ul class="grid covers">\n')
    for aid in album_ids:
        album = view.album_by_id[aid]
        out.append(cover_card(view, to_page(root, album_page(aid)),
                              title_of(album), view.media_counts(album.get('photo_ids', [])),
                              view.album_cover(album), root))
    out.append('</ul>\n')


def known_albums(view, coll):
    """The collection's album ids that have pages (a listing may name a deleted one)."""
    return [a for a in coll.get('album_ids', []) if a in view.album_by_id]


def collection_meta(view, coll):
    meta = plural(len(known_albums(view, coll)), 'album')
    if coll.get('children'):
        meta += ', ' + plural(len(coll['children']), 'collection')
    return meta


def collection_tree(out, view, colls, root):
    """Nested list of collections for the index page."""
    out.append('<ul class="tree">\n')
    for coll in colls:
        cover = view.collection_cover(coll)
        thumb = img_tag(view, cover, root, '', 'mini') if cover else '<span class="mini"></span>'
        out.append('<li><a href="%s">%s<span><span class="name">%s</span><span class="meta">%s</span>'
                   '</span></a>' % (to_page(root, collection_page(coll['id'])), thumb,
                                    esc(title_of(coll)), esc(collection_meta(view, coll))))
        if coll.get('children'):
            out.append('\n')
            collection_tree(out, view, coll['children'], root)
        out.append('</li>\n')
    out.append('</ul>\n')


def photo_card(out, view, pid, root):
    """One photo or video: its thumbnail (linking to its own page), title, date taken, tags
    and description."""
    photo = view.by_id.get(pid) or {'id': pid, 'title': 'Photo %s' % pid}
    title = title_of(photo)
    rel = view.media(photo)[0] if pid in view.by_id else None
    is_video = photo.get('media') == 'video'
    out.append('<li class="photo" id="p%s">' % esc(page_id(pid)))
    if rel is None:
        out.append('<span class="frame missing">Not mirrored</span>')
    else:
        pic = (img_tag(view, photo, root, title) if view.grid_image(photo) else
               '<span class="nocover">%s</span>' % ('Video' if is_video else 'No preview'))
        badge = '<span class="play" title="Video">\u25b6</span>' if is_video else ''
        out.append('<a class="frame%s" href="%s">%s%s</a>' % (
            ' video' if is_video else '', esc(to_page(root, photo_page(pid))), pic, badge))
    out.extend(('<div class="info"><h2>', esc(title), '</h2>'))
    taken = photo.get('datetaken') or ''
    if taken:
        out.append('<time datetime="%s">%s</time>' % (esc(taken.replace(' ', 'T')), esc(taken)))
    desc = rich_text(photo.get('description'))
    if desc:
        out.extend(('<p class="desc">', desc, '</p>'))
    tags = photo.get('tags') or []
    if tags:
        out.append('<ul class="tags">')
        out.extend('<li>%s</li>' % esc(t) for t in tags)
        out.append('</ul>')
    out.append('</div></li>\n')


def pager(out, page, pages, name_of):
    """Links to the first, last, previous, next and nearby pages."""
    if pages <= 1:
        return
    shown = sorted({1, pages} | set(range(max(1, page - 3), min(pages, page + 3) + 1)))
    out.append('<nav class="pager">')
    if page > 1:
        out.append('<a rel="prev" href="%s">\u2190 Previous</a>' % esc(url_path(name_of(page - 1))))
    last = 0
    for n in shown:
        if n > last + 1:
            out.append('<span class="gap">\u2026</span>')
        if n == page:
            out.append('<span class="current">%d</span>' % n)
        else:
            out.append('<a href="%s">%d</a>' % (esc(url_path(name_of(n))), n))
        last = n
    if page < pages:
        out.append('<a rel="next" href="%s">Next \u2192</a>' % esc(url_path(name_of(page + 1))))
    out.append('</nav>\n')


# -- page names

def album_page(album_id, n=1):
    return 'album-%s.html' % page_id(album_id) if n == 1 else 'album-%s.page%d.html' % (page_id(album_id), n)


def collection_page(coll_id):
    return 'collection-%s.html' % page_id(coll_id)


def photostream_page(n):
    return 'photostream-%d.html' % n


def orphan_page(n):
    return 'not-in-any-album.html' if n == 1 else 'not-in-any-album.page%d.html' % n


def photo_page(photo_id):
    return 'photo-%s.html' % page_id(photo_id)


SEARCH_PAGE = 'search.html'
SEARCH_SCRIPT = 'search.js'
SEARCH_INDEX = 'search-index.js'


# -- whole pages

def index_page(view):
    out = page_head('Home', '')
    heading(out, 'Flickr backup', count='%s, %s, %s' % (
        view.media_counts([p['id'] for p in view.photos]), plural(len(view.albums), 'album'),
        plural(len(view.collections), 'collection')))
    out.append('<ul class="grid covers special">\n')
    all_ids = [p['id'] for p in view.photos]
    out.append(cover_card(view, to_page('', photostream_page(1)), 'Photostream',
                          view.media_counts(all_ids), view.first_image(all_ids), ''))
    orphans = orphan_ids(view)
    out.append(cover_card(view, to_page('', orphan_page(1)), 'Not in any album',
                          view.media_counts(orphans), view.first_image(orphans), ''))
    out.append('</ul>\n')
    if view.collections:
        out.append('<h2 class="section">Collections</h2>\n')
        collection_tree(out, view, view.collections, '')
    out.append('<h2 class="section">Albums</h2>\n')
    if view.albums:
        album_grid(out, view, [a['id'] for a in view.albums], '')
    else:
        out.append('<p class="empty">No albums.</p>\n')
    out.append(PAGE_FOOT)
    return out


def photo_list_pages(view, title, photo_ids, name_of, description=None, crumbs=()):
    """Yield (file name, parts) for a paginated list of photos, one page in memory at a time."""
    pages = max(1, -(-len(photo_ids) // view.page_size))
    counts = view.media_counts(photo_ids)   # once, not once a page: 200 pages of 100,000 photos
    for n in range(1, pages + 1):
        chunk = photo_ids[(n - 1) * view.page_size:n * view.page_size]
        page_title = title if pages == 1 else '%s (page %d of %d)' % (title, n, pages)
        out = page_head(page_title, '../')
        heading(out, page_title, description if n == 1 else None, counts, crumbs)
        pager(out, n, pages, name_of)
        if chunk:
            out.append('<ul class="grid photos">\n')
            for pid in chunk:
                photo_card(out, view, pid, '../')
            out.append('</ul>\n')
        else:
            out.append('<p class="empty">Nothing here.</p>\n')
        pager(out, n, pages, name_of)
        out.append(PAGE_FOOT)
        yield name_of(n), out


def collection_pages(view, colls, parents=()):
    """Yield (file name, parts) for each collection in the tree; parents: crumbs above it."""
    for coll in colls:
        title = title_of(coll)
        out = page_head(title, '../')
        albums = known_albums(view, coll)
        children = coll.get('children', [])
        heading(out, title, coll.get('description'), collection_meta(view, coll),
                (('../index.html', 'Home'),) + parents)
        if children:
            out.append('<ul class="grid covers">\n')
            for child in children:
                out.append(cover_card(view, url_path(collection_page(child['id'])), title_of(child),
                                      collection_meta(view, child), view.collection_cover(child), '../'))
            out.append('</ul>\n')
        if albums:
            album_grid(out, view, albums, '../')
        if not albums and not children:
            out.append('<p class="empty">This collection is empty.</p>\n')
        out.append(PAGE_FOOT)
        yield collection_page(coll['id']), out
        crumb = (url_path(collection_page(coll['id'])), title)
        yield from collection_pages(view, children, parents + (crumb,))


def orphan_ids(view):
    in_album = set()
    for album in view.albums:
        in_album.update(album.get('photo_ids', []))
    return [p['id'] for p in view.photos if p['id'] not in in_album]


def album_places(view):
    """photo id -> where it is in albums, packed as album number << 32 | position (a tuple
    of them for a photo in several albums): a small int per photo, not a list of tuples,
    for 100,000 photos.  Read it with places_of()."""
    places = {}
    for n, album in enumerate(view.albums):
        for i, pid in enumerate(album.get('photo_ids', [])):
            photo = view.by_id.get(pid)
            if photo is not None and view.media(photo)[0]:
                held = places.get(pid)
                packed = n << 32 | i
                places[pid] = packed if held is None else (held if isinstance(held, tuple) else (held,)) + (packed,)
    return places


def places_of(view, places, pid):
    """[(album, position in it)] of a photo, in album order."""
    held = places.get(pid, ())
    return [(view.albums[p >> 32], p & 0xffffffff) for p in (held if isinstance(held, tuple) else (held,))]


def neighbours(view, ids, i):
    """The nearest photos before and after position i of ids that have a page."""
    def near(step):
        j = i + step
        while 0 <= j < len(ids):
            photo = view.by_id.get(ids[j])
            if photo is not None and view.media(photo)[0]:
                return ids[j]
            j += step
        return None
    return near(-1), near(1)


def step_links(out, prev_id, next_id, label):
    out.append('<nav class="steps">')
    out.append('<a rel="prev" href="%s">\u2190 Previous</a>' % esc(url_path(photo_page(prev_id)))
               if prev_id else '<span class="off">\u2190 Previous</span>')
    out.append('<span class="where">%s</span>' % label)
    out.append('<a rel="next" href="%s">Next \u2192</a>' % esc(url_path(photo_page(next_id)))
               if next_id else '<span class="off">Next \u2192</span>')
    out.append('</nav>\n')


def describe_place(detail):
    """'Locality, Region, Country (lat, lon)' from whatever the photo's metadata has."""
    names = [clean_text(n).strip() for n in detail.get('place_names') or []]
    text = ', '.join(n for n in names if n)
    lat, lon = detail.get('latitude'), detail.get('longitude')
    if lat is not None and lon is not None:
        text += '%s(%.5f, %.5f)' % (' ' if text else '', lat, lon)
    return text


def photo_page_parts(view, photo, stream_ids, index, places):
    """A photo's own page: the original, its words, place, albums, comments, Flickr link."""
    pid = photo['id']
    title = title_of(photo)
    rel, w, h = view.media(photo)
    detail = view.details(pid) or {}
    out = page_head(title, '../')
    stream_page = photostream_page(index // view.page_size + 1)
    heading(out, title, crumbs=(('../index.html', 'Home'), (url_path(stream_page), 'Photostream')))
    step_links(out, *neighbours(view, stream_ids, index), label='Photostream')
    src = esc('../' + url_path(rel))
    out.append('<figure class="original">')
    if photo.get('media') == 'video':
        poster = view.grid_image(photo)
        out.append('<video controls preload="metadata" src="%s"%s></video>' % (
            src, ' poster="%s"' % esc('../' + url_path(poster[0])) if poster else ''))
    else:
        size = ' width="%d" height="%d"' % (w, h) if w and h else ''
        out.append('<a href="%s"><img src="%s" alt="%s"%s></a>' % (src, src, esc(title), size))
    out.append('</figure>\n')
    desc = rich_text(photo.get('description'))
    if desc:
        out.extend(('<p class="desc">', desc, '</p>\n'))
    out.append('<dl class="facts">\n')
    taken = photo.get('datetaken') or ''
    if taken:
        out.append('<dt>Taken</dt><dd><time datetime="%s">%s</time></dd>\n'
                   % (esc(taken.replace(' ', 'T')), esc(taken)))
    place = describe_place(detail)
    if place:
        out.append('<dt>Place</dt><dd>%s</dd>\n' % esc(place))
    tags = photo.get('tags') or []
    if tags:
        out.append('<dt>Tags</dt><dd><ul class="tags">%s</ul></dd>\n' % ''.join('<li>%s</li>' % esc(t) for t in tags))
    in_albums = places_of(view, places, pid)
    if in_albums:
        out.append('<dt>Albums</dt><dd><ul class="albums">\n')
        for album, i in in_albums:
            ids = album.get('photo_ids', [])
            prev_id, next_id = neighbours(view, ids, i)
            link = '<a href="%s">%s</a>' % (esc(url_path(album_page(album['id'], i // view.page_size + 1))),
                                            esc(title_of(album)))
            out.append('<li>')
            step_links(out, prev_id, next_id, '%s <span class="meta">%d of %d</span>' % (link, i + 1, len(ids)))
            out.append('</li>\n')
        out.append('</ul></dd>\n')
    out.append('<dt>File</dt><dd><a class="file" href="%s">%s</a></dd>\n' % (src, esc(rel.rsplit('/', 1)[-1])))
    url = detail.get('url') or ''
    if re.match(r'^https://[\w.-]*flickr\.com/', url):
        out.append('<dt>On Flickr</dt><dd><a href="%s" rel="noopener noreferrer">%s</a></dd>\n'
                   % (esc(url), esc(url)))
    out.append('</dl>\n')
    comments = detail.get('comments') or []
    if comments:
        out.append('<h2 class="section">%s</h2>\n<ol class="comments">\n' % esc(plural(len(comments), 'comment')))
        for c in comments:
            out.append('<li><span class="author">%s</span> <time>%s</time><div class="text">%s</div></li>\n'
                       % (esc(c.get('author')), esc(c.get('date')), rich_text(c.get('text'))))
        out.append('</ol>\n')
    out.append(PAGE_FOOT)
    return out


def photo_pages(view):
    """Yield (file name, parts) for every photo that is mirrored, one page at a time."""
    stream_ids = [p['id'] for p in view.photos]
    places = album_places(view)
    for index, photo in enumerate(view.photos):
        if view.media(photo)[0]:
            yield photo_page(photo['id']), photo_page_parts(view, photo, stream_ids, index, places)


# -- search without a server
# The index is a script (browsers refuse to fetch local JSON from file://), one photo per
# line: [page, grid image, title, words].  "words" is title, description, tags and album
# titles, lower-cased and without accents, so 'zurich' finds 'Zürich'.  A plain scan of
# 100,000 of them answers in tens of milliseconds.

def fold(text):
    return ''.join(c for c in unicodedata.normalize('NFKD', text)
                   if not unicodedata.category(c).startswith('M')).lower()


def search_index(view):
    """Yield the index script in chunks of about a megabyte (it never is in memory whole:
    some 15 MB for 100,000 photos)."""
    album_titles = {}   # photo id -> index into titles (a photo in several albums: a tuple)
    titles = [title_of(album) for album in view.albums]
    for n, album in enumerate(view.albums):
        for pid in album.get('photo_ids', []):
            held = album_titles.get(pid)
            album_titles[pid] = n if held is None else (held if isinstance(held, tuple) else (held,)) + (n,)
    out = [b'/* flickrmirrorer search index: [page, image, title, words] */\nwindow.FLICKR_SEARCH = [']
    size = 0
    for i, photo in enumerate(view.photos):
        pid = photo['id']
        title = clean_text(photo.get('title')).strip()
        page = url_path(photo_page(pid)) if view.media(photo)[0] else ''
        image = view.grid_image(photo)
        held = album_titles.get(pid, ())
        words = ' '.join([title, html_to_text(photo.get('description')), ' '.join(photo.get('tags') or [])]
                         + [titles[n] for n in (held if isinstance(held, tuple) else (held,))])
        entry = [page, '../' + url_path(image[0]) if image else '', title, fold(clean_text(words))]
        line = ((',\n' if i else '\n') + json.dumps(entry, ensure_ascii=False)).encode('utf-8')
        out.append(line)
        size += len(line)
        if size >= DOWNLOAD_CHUNK:
            yield b''.join(out)
            out, size = [], 0
    out.append(b'\n];\n')
    yield b''.join(out)


def search_page():
    out = page_head('Search', '../', scripts=(SEARCH_INDEX, SEARCH_SCRIPT))
    heading(out, 'Search', crumbs=(('../index.html', 'Home'),))
    out.append('<form class="bigsearch" role="search" action="%s"><input id="q" type="search" name="q" '
               'placeholder="Words from titles, descriptions, tags or album names" aria-label="Search" '
               'autofocus></form>\n' % url_path(SEARCH_PAGE))
    out.append('<p class="count" id="status">Searching needs JavaScript, which is off in this browser.</p>\n')
    out.append('<ul class="grid covers" id="results"></ul>\n')
    out.append(PAGE_FOOT)
    return out


# Builds results with the DOM (textContent, never innerHTML): a title is never markup.
SEARCH_JS = r"""'use strict';
/* flickrmirrorer search: scans window.FLICKR_SEARCH (search-index.js); no server, no network. */
(function () {
  var photos = window.FLICKR_SEARCH || [];
  var input = document.getElementById('q');
  var status = document.getElementById('status');
  var results = document.getElementById('results');
  var LIMIT = 200;

  function fold(text) {
    return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  }

  function find(query) {
    var words = fold(query).split(/\s+/).filter(Boolean);
    var found = [], total = 0;
    if (!words.length) return {found: found, total: 0};
    next: for (var i = 0; i < photos.length; i++) {
      var hay = photos[i][3];
      for (var j = 0; j < words.length; j++) {
        if (hay.indexOf(words[j]) < 0) continue next;
      }
      total++;
      if (found.length < LIMIT) found.push(photos[i]);
    }
    return {found: found, total: total};
  }

  function card(p) {
    var li = document.createElement('li');
    li.className = 'card';
    var link = document.createElement(p[0] ? 'a' : 'span');
    if (p[0]) link.href = p[0];
    var thumb = document.createElement('span');
    thumb.className = 'thumb';
    if (p[1]) {
      var img = document.createElement('img');
      img.src = p[1];
      img.alt = '';
      img.loading = 'lazy';
      thumb.appendChild(img);
    } else {
      var none = document.createElement('span');
      none.className = 'nocover';
      none.textContent = p[0] ? 'No preview' : 'Not mirrored';
      thumb.appendChild(none);
    }
    var name = document.createElement('span');
    name.className = 'name';
    name.textContent = p[2] || 'Untitled';
    link.appendChild(thumb);
    link.appendChild(name);
    li.appendChild(link);
    return li;
  }

  function show(query) {
    var started = performance.now();
    var r = find(query);
    var list = document.createDocumentFragment();
    r.found.forEach(function (p) { list.appendChild(card(p)); });
    results.replaceChildren(list);
    if (!query.trim()) {
      status.textContent = photos.length + ' photos and videos; type a word to search.';
    } else {
      status.textContent = r.total + (r.total === 1 ? ' match' : ' matches') +
        (r.total > r.found.length ? ', the first ' + r.found.length + ' shown' : '') + '.';
    }
    // For bench/search.py: how long the scan took, and when (since the page was opened).
    document.body.setAttribute('data-search-ms', String(performance.now() - started));
    document.body.setAttribute('data-shown-at-ms', String(performance.now()));
  }

  var timer = null;
  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { show(input.value); }, 100);
  });
  input.value = new URLSearchParams(location.search).get('q') || '';
  show(input.value);
})();
"""


def all_pages(view):
    """Yield (path relative to dest, parts) for every page of the view, one at a time."""
    yield 'index.html', index_page(view)
    home = (('../index.html', 'Home'),)
    inner = [photo_list_pages(view, 'Photostream', [p['id'] for p in view.photos], photostream_page,
                              crumbs=home),
             photo_list_pages(view, 'Not in any album', orphan_ids(view), orphan_page, crumbs=home)]
    for album in view.albums:
        inner.append(photo_list_pages(
            view, title_of(album), list(album.get('photo_ids', [])),
            lambda n, aid=album['id']: album_page(aid, n), album.get('description'), home))
    inner.append(collection_pages(view, view.collections))
    inner.append(photo_pages(view))
    inner.append([(SEARCH_PAGE, search_page())])
    for pages in inner:
        for name, parts in pages:
            yield HTML_DIR + '/' + name, parts


def remove_stale_pages(html_dir, keep):
    """Delete our own pages (by name pattern) that the current view no longer has."""
    removed = 0
    for name in sorted(os.listdir(html_dir)):
        if OUR_PAGE_RE.match(name) and name not in keep:
            os.unlink(os.path.join(html_dir, name))
            removed += 1
    return removed


def write_html_view(dest, photos, albums, collections, page_size=HTML_PAGE_SIZE, details=None):
    """Write dest/index.html, one page per album, collection and mirrored photo, and the
    search page with its index under dest/html/.

    photos: list in photostream order of dicts {'id', 'file': 'photostream/12345.jpg' or
            None (not mirrored), 'media': 'photo'|'video', 'title', 'description' (Flickr's
            HTML), 'datetaken': 'YYYY-MM-DD HH:MM:SS' or '', 'tags': [str, ...]}; optional
            'thumb': its thumbnail, relative to dest; 'width'/'height' spare reading the
            image header for size hints.
    albums: list in Flickr's album order of dicts {'id', 'title', 'description',
            'primary': photo id or None, 'photo_ids': [ids in album order]}
    collections: the collection tree, list of dicts {'id', 'title', 'description',
            'album_ids': [...], 'children': [same shape...]}
    details: photo id -> what only its photo page shows: {'place_names': [str], 'latitude',
            'longitude', 'url': its Flickr page, 'comments': [{'author', 'date', 'text'}]}
    Returns the number of files written (only files whose content changed are rewritten)."""
    view = View(dest, photos, albums, collections, page_size, details)
    html_dir = os.path.join(dest, HTML_DIR)
    os.makedirs(html_dir, exist_ok=True)
    written = int(write_file_if_changed(os.path.join(html_dir, 'style.css'), STYLE.encode('utf-8')))
    written += write_file_if_changed(os.path.join(html_dir, SEARCH_SCRIPT), SEARCH_JS.encode('utf-8'))
    written += write_chunks_if_changed(os.path.join(html_dir, SEARCH_INDEX), search_index(view))
    names = set()
    for rel, parts in all_pages(view):
        names.add(rel.split('/', 1)[1] if '/' in rel else rel)
        written += write_file_if_changed(os.path.join(dest, *rel.split('/')), ''.join(parts).encode('utf-8'))
    remove_stale_pages(html_dir, names)
    return written


# -- thumbnails: Flickr's own small size, fetched once per photo version

def thumb_name(photo_id, url):
    """A replaced photo has new secrets, so a new URL and a new thumbnail."""
    return '%s-%s.jpg' % (page_id(photo_id), hashlib.sha1(url.encode('utf-8')).hexdigest()[:12])


def thumb_path(photo_id, url):
    """The thumbnail's path relative to dest."""
    return '/'.join((HTML_DIR, THUMBS_DIR, thumb_name(photo_id, url)))


class ThumbnailFetcher:
    """Downloads thumbnails in parallel.  A thumbnail that cannot be fetched leaves its
    photo without a preview until the next run: never a failed run or another exit status."""

    def __init__(self, policy, reporter, timeout=(15, 60)):
        self.policy = policy
        self.reporter = reporter
        self.timeout = timeout
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers['User-Agent'] = 'flickrmirrorer/%s' % VERSION
        return session

    def _fetch_once(self, url, path):
        try:
            response = self._session().get(url, timeout=self.timeout)
        except requests.RequestException as e:   # a broken-off body too: worth another try
            raise TransientError('thumbnail %s failed: %s' % (url, first_line(e))) from None
        if response.status_code in TRANSIENT_HTTP_STATUSES:
            raise TransientError('HTTP %d for %s' % (response.status_code, url),
                                 parse_retry_after(response.headers.get('Retry-After')))
        content_type = response.headers.get('Content-Type', '').split(';')[0].strip().lower()
        expected = to_int(response.headers.get('Content-Length'), None)
        if response.status_code != 200 or not content_type.startswith('image/') or not response.content \
                or expected is not None and len(response.content) != expected:
            raise TransientError('no thumbnail at %s (HTTP %d, %s, %d bytes)'
                                 % (url, response.status_code, content_type or '?', len(response.content)))
        atomic_write_bytes(path, response.content)

    def fetch(self, url, path):
        """True when the thumbnail is now at path."""
        try:
            with_retries(self.policy, lambda: self._fetch_once(url, path), self.reporter, url)
            return True
        except KeyboardInterrupt:
            raise
        except Exception as e:   # noqa: BLE001 -- whatever it was, the run goes on
            self.reporter.detail('No thumbnail for %s this time: %s' % (os.path.basename(path), first_line(e)))
            return False


def fetch_thumbnails(dest, photos, fetcher, jobs=DEFAULT_JOBS):
    """Fetch the missing thumbnails (each photo's THUMB_EXTRA URL, from the listing) into
    dest/html/thumbs/, set each photo's 'thumb' when its file is there, and remove the
    thumbnails no listed photo uses any more.  Returns (fetched, failed)."""
    thumbs_dir = os.path.join(dest, HTML_DIR, THUMBS_DIR)
    os.makedirs(thumbs_dir, exist_ok=True)
    wanted = set()

    def missing():   # a generator: 100,000 pending items at once would be heavy
        for photo in photos:
            url = photo.get('thumb_url')
            if not url:
                continue
            name = thumb_name(photo['id'], url)
            wanted.add(name)
            if os.path.exists(os.path.join(thumbs_dir, name)):
                photo['thumb'] = thumb_path(photo['id'], url)
            else:
                yield photo, name, url
    fetched = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {}

        def collect(return_when):
            nonlocal fetched, failed
            done, _ = concurrent.futures.wait(list(pending), return_when=return_when)
            for future in done:
                photo, url = pending.pop(future)
                if future.result():
                    photo['thumb'] = thumb_path(photo['id'], url)
                    fetched += 1
                else:
                    failed += 1
        for photo, name, url in missing():
            while len(pending) >= 2 * jobs:
                collect(concurrent.futures.FIRST_COMPLETED)
            pending[pool.submit(fetcher.fetch, url, os.path.join(thumbs_dir, name))] = (photo, url)
        if pending:
            collect(concurrent.futures.ALL_COMPLETED)
    with os.scandir(thumbs_dir) as entries:
        stale = [e.name for e in entries if OUR_THUMB_RE.match(e.name) and e.name not in wanted]
    for name in stale:
        try_unlink(os.path.join(thumbs_dir, name))
    return fetched, failed


STYLE = """\
/* flickrmirrorer HTML view: no web fonts, no external resources. */
:root {
  --bg: #f6f6f4; --fg: #1d1d1f; --muted: #6b6b70; --card: #fff; --line: #e2e2e0;
  --accent: #0b63ce; --thumb: #e9e9e6;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #161618; --fg: #ececee; --muted: #9d9da3; --card: #222226; --line: #333338;
          --accent: #6aa8ff; --thumb: #2c2c31; }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.site {
  display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: baseline;
  padding: .8rem 1.5rem; background: var(--card); border-bottom: 1px solid var(--line);
}
header.site .home { font-weight: 700; font-size: 1.1rem; color: var(--fg); }
header.site nav { display: flex; gap: 1.2rem; }
main { max-width: 1400px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.8rem; margin: .4rem 0 .2rem; overflow-wrap: anywhere; }
h2.section { font-size: 1.2rem; margin: 2rem 0 .8rem; }
.crumbs { font-size: .9rem; color: var(--muted); overflow-wrap: anywhere; }
.count, .meta, time { color: var(--muted); font-size: .9rem; }
.count { margin: 0 0 .6rem; }
.desc { white-space: pre-line; overflow-wrap: anywhere; max-width: 70ch; }
.empty { color: var(--muted); }
.grid { list-style: none; margin: 0; padding: 0; display: grid; gap: 1rem; }
.covers { grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); }
.photos { grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); align-items: start; }
.card a, .photo {
  display: block; background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  overflow: hidden; color: var(--fg);
}
.card a:hover { text-decoration: none; border-color: var(--accent); }
.thumb, .frame {
  display: flex; align-items: center; justify-content: center;
  aspect-ratio: 4 / 3; background: var(--thumb); overflow: hidden;
}
.thumb img { width: 100%; height: 100%; object-fit: cover; display: block; }
.frame img, .frame video { width: 100%; height: 100%; object-fit: contain; display: block; }
.frame video { background: #000; }
.nocover, .missing { color: var(--muted); font-size: .9rem; }
.card .name { display: block; padding: .5rem .7rem 0; font-weight: 600; overflow-wrap: anywhere; }
.card .meta { display: block; padding: 0 .7rem .6rem; }
.special .card a { border-style: dashed; }
.info { padding: .5rem .7rem .7rem; }
.info h2 { font-size: 1rem; margin: 0 0 .1rem; overflow-wrap: anywhere; }
.info .desc { font-size: .9rem; margin: .3rem 0 0; }
.info .file { font-size: .85rem; }
.tags { list-style: none; padding: 0; margin: .4rem 0 0; display: flex; flex-wrap: wrap; gap: .3rem; }
.tags li { background: var(--thumb); border-radius: 999px; padding: .05rem .55rem; font-size: .8rem; }
.tree, .tree ul { list-style: none; padding-left: 0; margin: 0; }
.tree ul { padding-left: 1.8rem; border-left: 2px solid var(--line); margin-left: 1.2rem; }
.tree li { margin: .35rem 0; }
.tree a { display: inline-flex; align-items: center; gap: .7rem; }
.tree .name { display: block; font-weight: 600; }
.tree .meta { display: block; }
.tree .mini {
  width: 44px; height: 44px; object-fit: cover; border-radius: 6px; background: var(--thumb);
  display: inline-block; flex: none;
}
.pager { display: flex; flex-wrap: wrap; gap: .35rem; margin: 1rem 0; align-items: center; }
.pager a, .pager span {
  padding: .2rem .6rem; border-radius: 6px; border: 1px solid var(--line); background: var(--card);
}
.pager .current { background: var(--accent); color: #fff; border-color: var(--accent); }
.pager .gap { border: none; background: none; }
.frame { position: relative; }
.frame img { object-fit: cover; }
.frame .play {
  position: absolute; left: .5rem; bottom: .5rem; background: rgba(0,0,0,.6); color: #fff;
  border-radius: 999px; padding: .1rem .55rem; font-size: .85rem;
}
header.site form.search { margin-left: auto; }
header.site input, .bigsearch input {
  font: inherit; padding: .3rem .6rem; border: 1px solid var(--line); border-radius: 8px;
  background: var(--bg); color: var(--fg); width: 16rem; max-width: 100%;
}
.bigsearch input { width: 100%; font-size: 1.1rem; padding: .5rem .8rem; margin: .5rem 0 .8rem; }
figure.original { margin: 1rem 0; background: var(--thumb); border-radius: 10px; overflow: hidden; }
figure.original img, figure.original video {
  display: block; max-width: 100%; height: auto; max-height: 75vh; margin: 0 auto; object-fit: contain;
}
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .4rem 1rem; max-width: 70ch; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.facts .tags { margin: 0; }
.albums { list-style: none; padding: 0; margin: 0; }
.steps { display: flex; gap: .8rem; align-items: baseline; flex-wrap: wrap; margin: .3rem 0; }
.steps .off { color: var(--muted); }
.comments { padding-left: 1.2rem; max-width: 70ch; }
.comments li { margin: .6rem 0; }
.comments .author { font-weight: 600; }
.comments .text { overflow-wrap: anywhere; }
"""


# ---------------------------------------------------------------------------
# Views: XMP sidecars that other photo managers read
# ---------------------------------------------------------------------------
# Beside every media file, '<file>.xmp' (the 'photo.jpg.xmp' naming digiKam, darktable and
# Immich look for): title, description as text, tags, albums and collections as
# hierarchical keywords, date taken, GPS, license and the Flickr page.  Derived from the
# stored .metadata files alone (no API call), so an adopted or older mirror gets them on
# its next run; rewritten only when their content changes.  Originals are never touched.

XMP_SUFFIX = '.xmp'
XMP_HIERARCHY_ROOT = 'Flickr'
# flickr.photos.licenses.getInfo (stable for years; ids 11-16 are newer Creative Commons).
FLICKR_LICENSES = {
    '0': ('All Rights Reserved', ''),
    '1': ('Attribution-NonCommercial-ShareAlike License', 'https://creativecommons.org/licenses/by-nc-sa/2.0/'),
    '2': ('Attribution-NonCommercial License', 'https://creativecommons.org/licenses/by-nc/2.0/'),
    '3': ('Attribution-NonCommercial-NoDerivs License', 'https://creativecommons.org/licenses/by-nc-nd/2.0/'),
    '4': ('Attribution License', 'https://creativecommons.org/licenses/by/2.0/'),
    '5': ('Attribution-ShareAlike License', 'https://creativecommons.org/licenses/by-sa/2.0/'),
    '6': ('Attribution-NoDerivs License', 'https://creativecommons.org/licenses/by-nd/2.0/'),
    '7': ('No known copyright restrictions', 'https://www.flickr.com/commons/usage/'),
    '8': ('United States Government Work', 'http://www.usa.gov/copyright.shtml'),
    '9': ('Public Domain Dedication (CC0)', 'https://creativecommons.org/publicdomain/zero/1.0/'),
    '10': ('Public Domain Mark', 'https://creativecommons.org/publicdomain/mark/1.0/'),
    '11': ('Attribution 4.0 International', 'https://creativecommons.org/licenses/by/4.0/'),
    '12': ('Attribution-ShareAlike 4.0 International', 'https://creativecommons.org/licenses/by-sa/4.0/'),
    '13': ('Attribution-NoDerivs 4.0 International', 'https://creativecommons.org/licenses/by-nd/4.0/'),
    '14': ('Attribution-NonCommercial 4.0 International', 'https://creativecommons.org/licenses/by-nc/4.0/'),
    '15': ('Attribution-NonCommercial-ShareAlike 4.0 International', 'https://creativecommons.org/licenses/by-nc-sa/4.0/'),
    '16': ('Attribution-NonCommercial-NoDerivs 4.0 International', 'https://creativecommons.org/licenses/by-nc-nd/4.0/'),
}
PUBLIC_DOMAIN_LICENSES = ('7', '8', '9', '10')
XMP_NAMESPACES = (
    ('dc', 'http://purl.org/dc/elements/1.1/'),
    ('digiKam', 'http://www.digikam.org/ns/1.0/'),
    ('exif', 'http://ns.adobe.com/exif/1.0/'),
    ('lr', 'http://ns.adobe.com/lightroom/1.0/'),
    ('photoshop', 'http://ns.adobe.com/photoshop/1.0/'),
    ('xmpRights', 'http://ns.adobe.com/xap/1.0/rights/'),
)
# Flickr's date taken granularity: 0 second, 4 month, 6 year, 8 circa (a year).
DATE_TAKEN_LENGTH = {'0': 19, '4': 7, '6': 4, '8': 4}


def xml_text(text):
    return html.escape(clean_text(text), quote=True)


def album_keyword_paths(albums, tree):
    """album id -> the hierarchical keywords it gives its photos: ['Flickr', 'Albums', title]
    and ['Flickr', 'Collections', collection, ..., title] for every collection holding it."""
    titles = {a['id']: text_of(a.get('title')) for a, _ in albums}
    paths = {aid: [[XMP_HIERARCHY_ROOT, 'Albums', title]] for aid, title in titles.items()}

    def walk(collections, above):
        for coll in collections:
            here = above + [text_of(coll.get('title'))]
            for album in coll.get('set') or []:
                if album['id'] in paths:
                    paths[album['id']].append([XMP_HIERARCHY_ROOT, 'Collections'] + here + [titles[album['id']]])
            walk(coll.get('collection') or [], here)
    walk(tree or [], [])
    return paths


def keyword_path(path, separator):
    """'Flickr|Albums|Title': the separator inside a title would split it, so it becomes '_'."""
    return separator.join(clean_text(p).replace(separator, '_').strip() or 'Untitled' for p in path)


@dataclass
class XmpFields:
    """What a sidecar holds, in plain Python values (tests compare these with exiftool)."""
    title: str = ''
    description: str = ''
    tags: list = field(default_factory=list)
    hierarchy: list = field(default_factory=list)    # lists of path segments
    date_taken: str = ''                              # XMP date: 'YYYY', 'YYYY-MM' or 'YYYY-MM-DDThh:mm:ss'
    latitude: float = None
    longitude: float = None
    license: tuple = None                             # (name, url, rights-managed)
    page_url: str = ''


def xmp_fields(metadata, keyword_paths=()):
    """Fields from a stored .metadata: the photos.getInfo part when present, else the
    listing (a photo may have only listing data until it is enriched)."""
    info = metadata.get('photo') or {}
    listing = metadata.get('listing') or {}
    fields = XmpFields()
    fields.title = clean_text(text_of(info.get('title') if info else listing.get('title'))).strip()
    fields.description = html_to_text(text_of(info.get('description') if info else listing.get('description')))
    fields.tags = photo_tags(info, listing)
    fields.hierarchy = [list(p) for p in keyword_paths]
    fields.date_taken = xmp_date_taken(info, listing)
    fields.latitude, fields.longitude = photo_position(info, listing)
    license_id = str(info.get('license', listing.get('license', '')))
    if license_id in FLICKR_LICENSES:
        name, url = FLICKR_LICENSES[license_id]
        fields.license = (name, url, license_id not in PUBLIC_DOMAIN_LICENSES)
    if listing.get('id') or info.get('id'):
        fields.page_url = photo_page_url({'id': listing.get('id') or info.get('id'),
                                          'owner': listing.get('owner') or (info.get('owner') or {}).get('nsid')}, info)
    return fields


def photo_tags(info, listing):
    """Tags as the user typed them (getInfo's 'raw'), machine tags included; the listing
    only has Flickr's normalised forms."""
    tags = []
    if info.get('tags') is not None:
        tags = [t.get('raw') or text_of(t) for t in (info.get('tags') or {}).get('tag', [])]
    else:
        tags = (listing.get('tags') or '').split() + (listing.get('machine_tags') or '').split()
    seen = set()
    result = []
    for tag in (clean_text(t).strip() for t in tags):
        if tag and tag not in seen:
            seen.add(tag)
            result.append(tag)
    return result


def xmp_date_taken(info, listing):
    if info.get('dates'):
        dates = info['dates']
        taken, granularity, unknown = dates.get('taken'), dates.get('takengranularity'), dates.get('takenunknown')
    else:
        taken = listing.get('datetaken')
        granularity, unknown = listing.get('datetakengranularity'), listing.get('datetakenunknown')
    if not taken or str(unknown or '0') == '1':
        return ''
    if not re.match(r'^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$', str(taken)):
        return ''
    return str(taken).replace(' ', 'T')[:DATE_TAKEN_LENGTH.get(str(granularity or '0'), 19)]


def photo_position(info, listing):
    """(latitude, longitude) when the photo has a place; Flickr lists 0, 0 when it has none."""
    where = info.get('location') if info else listing
    if not where:
        return None, None
    try:
        lat, lon = float(where.get('latitude')), float(where.get('longitude'))
    except (TypeError, ValueError):
        return None, None
    if lat == 0 and lon == 0 or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


def xmp_coordinate(value, positive, negative):
    """XMP's GPSCoordinate notation: 'DDD,MM.mmmmmmmmR' (degrees, decimal minutes, N/S/E/W)."""
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60
    return '%d,%.8f%s' % (degrees, minutes, positive if value >= 0 else negative)


def _xmp_list(out, name, kind, items, lang=False):
    out.append('   <%s>\n    <rdf:%s>\n' % (name, kind))
    for item in items:
        out.append('     <rdf:li%s>%s</rdf:li>\n' % (' xml:lang="x-default"' if lang else '', xml_text(item)))
    out.append('    </rdf:%s>\n   </%s>\n' % (kind, name))


def xmp_packet(fields):
    """A complete XMP packet (UTF-8 bytes), deterministic for the same fields."""
    out = ['<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n',
           '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="flickrmirrorer %s">\n' % VERSION,
           ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n',
           '  <rdf:Description rdf:about=""']
    out.extend('\n    xmlns:%s="%s"' % ns for ns in XMP_NAMESPACES)
    simple = []
    if fields.date_taken:
        simple += [('exif:DateTimeOriginal', fields.date_taken), ('photoshop:DateCreated', fields.date_taken)]
    if fields.latitude is not None:
        simple += [('exif:GPSLatitude', xmp_coordinate(fields.latitude, 'N', 'S')),
                   ('exif:GPSLongitude', xmp_coordinate(fields.longitude, 'E', 'W')),
                   ('exif:GPSMapDatum', 'WGS-84'), ('exif:GPSVersionID', '2.2.0.0')]
    if fields.license:
        simple.append(('xmpRights:Marked', 'True' if fields.license[2] else 'False'))
        if fields.license[1]:
            simple.append(('xmpRights:WebStatement', fields.license[1]))
    out.extend('\n    %s="%s"' % (name, xml_text(value)) for name, value in simple)
    out.append('>\n')
    if fields.title:
        _xmp_list(out, 'dc:title', 'Alt', [fields.title], lang=True)
    if fields.description:
        _xmp_list(out, 'dc:description', 'Alt', [fields.description], lang=True)
    if fields.page_url:
        out.append('   <dc:source>%s</dc:source>\n' % xml_text(fields.page_url))
    if fields.license:
        _xmp_list(out, 'xmpRights:UsageTerms', 'Alt', [fields.license[0]], lang=True)
    if fields.tags:
        _xmp_list(out, 'dc:subject', 'Bag', fields.tags)
    # The tags again, as one-level paths: Immich reads its tags from digiKam:TagsList alone
    # when it is there, and digiKam and Lightroom list every keyword in these too.
    paths = [[tag] for tag in fields.tags] + fields.hierarchy
    if paths:
        _xmp_list(out, 'lr:hierarchicalSubject', 'Bag', [keyword_path(p, '|') for p in paths])
        _xmp_list(out, 'digiKam:TagsList', 'Seq', [keyword_path(p, '/') for p in paths])
    out.append('  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n')
    return ''.join(out).encode('utf-8')


def xmp_path_for(photostream_dir, filename):
    return os.path.join(photostream_dir, filename + XMP_SUFFIX)


def albums_by_photo(albums):
    """photo id -> the number of its album in `albums` (a tuple of them for a photo in
    several): a small int per photo rather than a list, for 100,000 photos."""
    held = {}
    for n, (_, photo_ids) in enumerate(albums):
        for pid in photo_ids:
            before = held.get(pid)
            held[pid] = n if before is None else (before if isinstance(before, tuple) else (before,)) + (n,)
    return held


def write_xmp_sidecars(photostream_dir, albums, tree):
    """Write '<file>.xmp' beside every media file of photostream/ that has its .metadata,
    and remove our sidecars whose media file is gone.  albums: [(album record, photo ids)];
    tree: the collection tree.  Returns (written, removed)."""
    files, _ = scan_photostream(photostream_dir)
    by_id = album_keyword_paths(albums, tree)
    keyword_paths = [by_id[album['id']] for album, _ in albums]
    photo_albums = albums_by_photo(albums)
    written = removed = 0
    for photo_id, filename in files.items():
        metadata = read_json(metadata_path_for(photostream_dir, filename))
        if not isinstance(metadata, dict) or 'flickrmirrorer' not in metadata:
            continue   # not mirrored yet, or a legacy file that the next download upgrades
        held = photo_albums.get(photo_id, ())
        paths = [p for n in (held if isinstance(held, tuple) else (held,)) for p in keyword_paths[n]]
        packet = xmp_packet(xmp_fields(metadata, paths))
        written += write_file_if_changed(xmp_path_for(photostream_dir, filename), packet)
    for name in os.listdir(photostream_dir):
        if name.endswith(XMP_SUFFIX) and PHOTO_FILE_RE.match(name[:-len(XMP_SUFFIX)]):
            media = name[:-len(XMP_SUFFIX)]
            if files.get(media.split('.')[0]) != media:
                try_unlink(os.path.join(photostream_dir, name))
                removed += 1
    return written, removed


# ---------------------------------------------------------------------------
# The run: list, plan, act, tidy
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class PhotoSummary:
    """The little the run keeps about every listed photo: its order, its file and what the
    HTML view shows.  Memory stays about this per photo, however large the account."""
    id: str
    media: str
    dateupload: str
    datetaken: str
    title: str
    description: str
    tags: str
    file: str = None   # relative to dest, once the photo is mirrored
    thumb_url: str = None   # Flickr's small size (THUMB_EXTRA), for the HTML view's grids
    has_thumb: bool = False  # its local copy is in html/thumbs/ (its path is derived from the URL)

    @classmethod
    def from_record(cls, record):
        return cls(record['id'], record.get('media', 'photo'), str(record.get('dateupload', '')),
                   record.get('datetaken', ''), text_of(record.get('title')),
                   text_of(record.get('description')), record.get('tags', '') or '',
                   thumb_url=record.get(THUMB_EXTRA) or None)

    def get(self, key, default=None):
        """The mapping interface the HTML view reads photos through (no copy per photo)."""
        if key == 'tags':
            return self.tags.split()
        if key == 'thumb':
            return thumb_path(self.id, self.thumb_url) if self.has_thumb else None
        return getattr(self, key, default)

    __getitem__ = get

    def __setitem__(self, key, value):
        """Only 'thumb' is ever set (by fetch_thumbnails): 100,000 paths are not kept."""
        assert key == 'thumb', key
        self.has_thumb = value is not None


class Mirror:
    def __init__(self, args, client, stats, reporter, stop_event):
        self.args = args
        self.dest = args.destination
        self.dry_run = args.dry_run
        self.photostream_dir = os.path.join(self.dest, PHOTOSTREAM_DIR)
        self.client = client
        self.stats = stats
        self.reporter = reporter
        self.stop_event = stop_event
        self.downloader = Downloader(client.policy, reporter, stop_event)
        self.photos = PhotoMirror(self.photostream_dir, client, self.downloader, stats, reporter)
        self.files = {}               # photo id -> media file name, for every listed photo we hold
        self.photostream = []         # PhotoSummary of every listed photo, in Flickr's order
        self.failed = []              # (photo id, message)
        self.unavailable_videos = []  # photo page URLs to download by hand
        self.errors_in_a_row = 0
        self.progress = None

    @property
    def photostream_ids(self):
        return [p.id for p in self.photostream]

    def run(self):
        local_files, orphaned_metadata = scan_photostream(self.photostream_dir, find_orphans=self.args.verify)
        if not self.dry_run:
            os.makedirs(self.photostream_dir, exist_ok=True)
        self.mirror_photostream(local_files, orphaned_metadata)
        builder = TreeBuilder(self.dest, self.client, self.stats, self.reporter)
        albums = builder.list_albums()
        tree = self.client.collection_tree()
        if self.dry_run:
            builder.report_album_changes(albums, self.files)
            self.tidy_photostream(local_files)
            return
        builder.build_albums(albums, self.files)
        builder.build_not_in_album(self.photostream_ids, albums, self.files)
        builder.build_collections(tree)
        self.tidy_photostream(local_files)
        self.write_photostream_order()
        if not self.args.no_xmp:
            self.write_xmp(albums, tree)
        if not self.args.no_html:
            self.write_html(albums, tree)
        self.report_unavailable_videos()
        self.report_verification()

    # -- photostream: list and plan page by page, act in a bounded worker pool --
    def mirror_photostream(self, local_files, orphaned_metadata):
        self.reporter.info('Reading your photostream from Flickr...')
        self.progress = self.reporter.progress_bar('Mirroring')
        seen = set()
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=self.args.jobs) as pool:
                pending = {}
                try:
                    for record in self.client.photostream(on_total=self._set_total):
                        photo_id = record.get('id')
                        if not photo_id or photo_id in seen:   # a photo can move pages during the walk
                            continue
                        seen.add(photo_id)
                        self.photostream.append(PhotoSummary.from_record(record))
                        task = self.plan(record, local_files.get(photo_id), photo_id in orphaned_metadata)
                        if task is None:
                            self._advance()
                            continue
                        if self.dry_run:
                            self.report_planned(task)
                            self._advance()
                            continue
                        while len(pending) >= 2 * self.args.jobs:
                            self._collect(pending, concurrent.futures.FIRST_COMPLETED)
                        pending[pool.submit(self.photos.run, task)] = task
                    self._collect(pending, concurrent.futures.ALL_COMPLETED)
                except BaseException:
                    self.stop_event.set()
                    for future in pending:
                        future.cancel()
                    raise
        finally:
            self.reporter.close_progress()
        self.reporter.info('Photostream: %d items on Flickr.' % len(self.photostream))

    def _set_total(self, total):
        if self.progress is not None:
            self.progress.total = total
            self.progress.refresh()

    def _advance(self):
        if self.progress is not None:
            self.progress.set_postfix_str(human_bytes(self.stats.bytes), refresh=False)
            self.progress.update(1)

    def plan(self, record, filename, metadata_without_file):
        photo_id = record['id']
        if filename:
            self.files[photo_id] = filename   # linked from albums even when its media type is ignored
        if not wanted_media(record, self.args):
            self.stats.skipped += 1
            return None
        if metadata_without_file:   # the file went missing since it was mirrored
            self.stats.missing += 1
        stored = None
        if filename:
            stored = StoredPhoto.from_json(read_json(metadata_path_for(self.photostream_dir, filename)))
        task = plan_photo(record, filename, stored)
        if task is None and self.args.verify:
            task = PhotoTask(record=strip_volatile(record), filename=filename, stored=stored)
        if task is not None:
            task.verify = self.args.verify
        return task

    def report_planned(self, task):
        """--dry-run: say what the run would do for this photo."""
        name = task.filename or 'photo %s' % task.photo_id
        if task.need_file:
            self.stats.new += 0 if task.filename else 1
            self.stats.updated += 1 if task.filename else 0
            self.reporter.info('would %s %s' % ('update' if task.filename else 'download', name))
        elif task.need_info or task.need_comments or task.stored is None or task.stored.listing != task.record:
            self.stats.metadata_updated += 1
            self.reporter.info('would update the metadata of %s' % name)

    def _collect(self, pending, return_when):
        done, _ = concurrent.futures.wait(list(pending), return_when=return_when)
        for future in done:
            task = pending.pop(future)
            self._finish(task, future)
            self._advance()

    def _finish(self, task, future):
        photo_id = task.photo_id
        try:
            self.files[photo_id] = future.result()
            self.errors_in_a_row = 0
        except VideoUnavailable:
            self.unavailable_videos.append(photo_page_url(task.record))
        except (ItemError, TransientError) as e:
            self._item_failed(photo_id, str(e))
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG):
                raise FatalError('Cannot write to %s: %s' % (self.dest, e.strerror)) from None
            self._item_failed(photo_id, 'cannot write: %s' % e)

    def _item_failed(self, photo_id, message):
        self.stats.failed += 1
        self.failed.append((photo_id, message))
        self.reporter.error('could not mirror %s: %s' % (photo_id, message.splitlines()[0]))
        self.errors_in_a_row += 1
        if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            raise FatalError('%d photos in a row failed; stopping.  Flickr may be down: run again '
                             'later, the mirror resumes where it stopped.' % self.errors_in_a_row)

    # -- tidy: local photos no longer on Flickr --
    def tidy_photostream(self, local_files):
        listed = {p.id for p in self.photostream}
        gone = sorted(pid for pid in local_files if pid not in listed)
        if not gone:
            return
        if not self.args.delete_unknown:
            self.reporter.info('%d local photos are no longer on Flickr; they are kept (use '
                               '--delete-unknown to remove them).' % len(gone))
            return
        limit = max(DELETE_COUNT_FLOOR, int(len(local_files) * DELETE_SHARE_LIMIT))
        if self.dry_run or len(gone) > limit and not self.args.force:
            for pid in gone:
                self.reporter.prompt('would delete: %s' % os.path.join(PHOTOSTREAM_DIR, local_files[pid]))
        if self.dry_run:
            return
        if len(gone) > limit and not self.args.force:
            raise FatalError('Refusing to delete %d of %d local photos (more than %d) in one run; check '
                             'the list above and run again with --force if it is right.'
                             % (len(gone), len(local_files), limit))
        for pid in gone:
            name = local_files[pid]
            try_unlink(os.path.join(self.photostream_dir, name))
            try_unlink(metadata_path_for(self.photostream_dir, name))
            try_unlink(xmp_path_for(self.photostream_dir, name))
            self.stats.deleted += 1
            self.reporter.detail('Deleted %s (no longer on Flickr)' % name)

    # -- order and the browsable view --
    def write_photostream_order(self):
        """dest/photostream.json: the photostream's order, which no directory can show.
        One photo a line, written to a buffer as it goes: for 100,000 photos an indented
        dump would cost ten times the memory."""
        out = io.BytesIO()
        out.write(b'{"flickrmirrorer": {"format": %d}, "photos": [' % METADATA_FORMAT)
        for i, p in enumerate(self.photostream):
            entry = {'id': p.id, 'dateupload': p.dateupload, 'file': self.files.get(p.id)}
            out.write(((',\n' if i else '\n') + json.dumps(entry, sort_keys=True, ensure_ascii=False)).encode('utf-8'))
        out.write(b'\n]}\n')
        write_file_if_changed(os.path.join(self.dest, 'photostream.json'), out.getbuffer())

    def write_html(self, albums, tree):
        for photo in self.photostream:
            name = self.files.get(photo.id)
            photo.file = PHOTOSTREAM_DIR + '/' + name if name else None
        album_list = [{'id': a['id'], 'title': text_of(a.get('title')), 'description': text_of(a.get('description')),
                       'primary': a.get('primary'), 'photo_ids': ids} for a, ids in albums]
        fetcher = ThumbnailFetcher(self.client.policy, self.reporter)
        fetched, failed = fetch_thumbnails(self.dest, self.photostream, fetcher, self.args.jobs)
        if failed:
            self.reporter.info('%d thumbnails could not be fetched; their photos show without a preview '
                               'until the next run.' % failed)
        written = write_html_view(self.dest, self.photostream, album_list, html_collections(tree),
                                  details=self.photo_details)
        self.reporter.detail('HTML view: %d thumbnails fetched, %d pages written' % (fetched, written))

    def photo_details(self, photo_id):
        """What a photo's own page shows beyond the listing, from its stored .metadata."""
        name = self.files.get(photo_id)
        metadata = read_json(metadata_path_for(self.photostream_dir, name)) if name else None
        return photo_details(metadata) if isinstance(metadata, dict) else {}

    def write_xmp(self, albums, tree):
        written, removed = write_xmp_sidecars(self.photostream_dir, albums, tree)
        self.reporter.detail('XMP sidecars: %d written, %d removed' % (written, removed))

    # -- what the user must know --
    def report_unavailable_videos(self):
        if not self.unavailable_videos:
            return
        self.reporter.warning('%d videos cannot be downloaded through the Flickr API; download them '
                              'by hand from their pages (Download > Original) into %s:\n%s'
                              % (len(self.unavailable_videos), self.photostream_dir,
                                 '\n'.join('  ' + url for url in self.unavailable_videos)))

    def report_verification(self):
        if not self.args.verify:
            return
        broken = self.stats.damaged + self.stats.missing
        unrepaired = len(self.failed)
        self.reporter.info('Verified %d files: %d damaged, %d missing; %s.' % (
            self.stats.verified, self.stats.damaged, self.stats.missing,
            'all repaired' if broken and not unrepaired else
            '%d could not be repaired' % unrepaired if unrepaired else 'all intact'))


def photo_details(metadata):
    info = metadata.get('photo') or {}
    listing = metadata.get('listing') or {}
    location = info.get('location') or {}
    latitude, longitude = photo_position(info, listing)
    comments = []
    for c in metadata.get('comments') or []:
        when = to_int(c.get('datecreate'), None)
        comments.append({'author': c.get('authorname') or c.get('realname') or c.get('author') or '',
                         'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(when)) if when else '',
                         'text': text_of(c)})
    record = {'id': listing.get('id') or info.get('id'),
              'owner': listing.get('owner') or (info.get('owner') or {}).get('nsid')}
    return {'place_names': [text_of(location.get(k)) for k in ('locality', 'county', 'region', 'country')
                            if location.get(k)],
            'latitude': latitude, 'longitude': longitude, 'comments': comments,
            'url': photo_page_url(record, info) if record['id'] else ''}


def html_collections(tree):
    return [{'id': c['id'], 'title': text_of(c.get('title')), 'description': text_of(c.get('description')),
             'album_ids': [a['id'] for a in c.get('set') or []],
             'children': html_collections(c.get('collection') or [])} for c in tree]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

EPILOG = """\
examples:
  %(prog)s /mnt/backup/flickr/                 first mirror (logs in once), or update it
  %(prog)s -q /mnt/backup/flickr/              from cron: prints errors only
  %(prog)s --statistics --delete-unknown DEST  also remove what you deleted on Flickr
  %(prog)s --no-browser DEST                   log in on a machine without a browser

exit status: 0 everything mirrored, 1 some items failed, 2 usage / configuration / login
error, 130 interrupted.
"""


def positive_int(value):
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number' % value)
    if number < 1:
        raise argparse.ArgumentTypeError('%r must be at least 1' % value)
    return number


def build_parser():
    parser = argparse.ArgumentParser(
        prog='flickrmirrorer.py',
        description='Keep a complete local mirror of your own Flickr account: every photo and video '
                    'original, metadata as JSON, albums and collections as directories of symlinks.  '
                    'Run it again at any time: it fetches only what changed.',
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('destination', help='directory of the mirror (created if missing)')
    parser.add_argument('-q', '--quiet', action='store_true', help='print errors only (for cron)')
    parser.add_argument('-v', '--verbose', action='store_true', help='print every file handled')
    parser.add_argument('--version', action='version', version='%(prog)s ' + VERSION)
    parser.add_argument('-s', '--statistics', action='store_true',
                        help='print counts of new, updated, deleted, failed items, bytes and API calls')
    parser.add_argument('-n', '--dry-run', action='store_true',
                        help='read Flickr and print what would be downloaded, updated and deleted; change nothing')
    parser.add_argument('--verify', action='store_true',
                        help='re-hash every local file against the SHA-256 recorded when it was downloaded; '
                             'download damaged or missing files again')
    parser.add_argument('--no-html', action='store_true', help='do not write the browsable index.html pages')
    parser.add_argument('--no-xmp', action='store_true',
                        help='do not write the .xmp sidecars (for digiKam, Immich, darktable, Lightroom)')
    parser.add_argument('--ignore-photos', action='store_true', help='do not mirror photos')
    parser.add_argument('--ignore-videos', action='store_true', help='do not mirror videos')
    parser.add_argument('--delete-unknown', action='store_true',
                        help='delete local photos that are no longer on Flickr (after a complete listing only)')
    parser.add_argument('--force', action='store_true',
                        help='with --delete-unknown: delete even more than %d percent of the mirror'
                             % int(DELETE_SHARE_LIMIT * 100))
    parser.add_argument('-j', '--jobs', type=positive_int, default=DEFAULT_JOBS,
                        help='parallel downloads (default %d)' % DEFAULT_JOBS)
    parser.add_argument('--max-calls-per-hour', type=positive_int, default=DEFAULT_MAX_CALLS_PER_HOUR,
                        help='API call budget (default %d; Flickr allows about 3600)' % DEFAULT_MAX_CALLS_PER_HOUR)
    parser.add_argument('--retries', type=positive_int, default=RetryPolicy.attempts,
                        help='attempts per request before an item counts as failed (default %d)'
                             % RetryPolicy.attempts)
    parser.add_argument('--retry-wait', type=float, default=RetryPolicy.initial_wait, metavar='SECONDS',
                        help='first wait before a retry, doubled each time (default %g)' % RetryPolicy.initial_wait)
    parser.add_argument('--api-key', help='Flickr API key (or FLICKR_API_KEY, or the config file)')
    parser.add_argument('--api-secret', help='Flickr API secret (or FLICKR_API_SECRET)')
    parser.add_argument('--config', metavar='FILE', help='config file (default %s)' % default_config_path())
    parser.add_argument('--token-dir', metavar='DIR',
                        help='where the login token is kept (default ~/.flickr)')
    parser.add_argument('--no-browser', action='store_true',
                        help='log in by copying a code instead of opening a web browser')
    parser.add_argument('--relogin', action='store_true', help='forget the stored login and log in again')
    return parser


def run(args, reporter, stats, stop_event):
    if args.ignore_photos and args.ignore_videos:
        raise FatalError('--ignore-photos and --ignore-videos together leave nothing to mirror.', EXIT_USAGE)
    api_key, api_secret = find_api_credentials(args, os.environ)
    configure_endpoints(os.environ.get('FLICKR_API_BASE'))
    args.destination = os.path.abspath(os.path.expanduser(args.destination))
    if args.dry_run:   # reads only: no directory, no lock, no clean-up
        if os.path.lexists(args.destination) and not os.path.isdir(args.destination):
            raise FatalError('Destination %s exists and is not a directory.' % args.destination, EXIT_USAGE)
        lock = None
    else:
        prepare_destination(args.destination)
        lock = lock_destination(args.destination)
    try:
        if lock is not None:
            remove_leftover_temp_files(args.destination)
        token = login(api_key, api_secret, token_cache_dir(args), reporter,
                      use_browser=not args.no_browser and browser_available(), relogin=args.relogin)
        policy = RetryPolicy(attempts=args.retries, initial_wait=args.retry_wait, stop_event=stop_event)
        client = FlickrClient(api_key, api_secret, token, CallPacer(args.max_calls_per_hour),
                              stats, policy, reporter)
        try:
            user = client.test_login()
        except TransientError as e:
            raise FatalError('Cannot reach Flickr: %s' % e)
        reporter.info('Mirroring the Flickr account of %s into %s' % (text_of(user.get('username')), args.destination))
        mirror = Mirror(args, client, stats, reporter, stop_event)
        try:
            mirror.run()
        except TransientError as e:
            raise FatalError('Flickr kept failing: %s.  Nothing was deleted; run again later and the '
                             'mirror resumes where it stopped.' % first_line(e))
        return EXIT_PARTIAL if mirror.failed or mirror.unavailable_videos else EXIT_OK
    finally:
        if lock is not None:
            os.close(lock)


def interrupt(signum, frame):
    """cron and service managers stop jobs with SIGTERM: treat it like Ctrl+C."""
    raise KeyboardInterrupt


def main(argv=None):
    args = build_parser().parse_args(argv)
    # flickrapi logs failed requests with their OAuth parameters (the token among them):
    # keep that out of the output; our own messages say what went wrong.
    flickrapi_log = logging.getLogger('flickrapi')
    flickrapi_log.addHandler(logging.NullHandler())
    flickrapi_log.propagate = False
    reporter = Reporter(quiet=args.quiet, verbose=args.verbose, progress=sys.stdout.isatty())
    stats = Stats()
    stop_event = threading.Event()
    signal.signal(signal.SIGTERM, interrupt)
    try:
        status = run(args, reporter, stats, stop_event)
    except KeyboardInterrupt:
        stop_event.set()
        reporter.error('interrupted; the mirror resumes where it stopped on the next run.')
        status = EXIT_INTERRUPTED
    except FatalError as e:
        reporter.error(str(e))
        status = e.status
    except OSError as e:   # the destination failed us: disk full, read-only, vanished
        where = ' (%s)' % e.filename if e.filename else ''
        reporter.error('cannot write the mirror%s: %s.  Nothing complete was lost; fix this and run '
                       'again.' % (where, e.strerror or e))
        status = EXIT_PARTIAL
    except ItemError as e:
        reporter.error('Flickr refused a listing: %s' % first_line(e))
        status = EXIT_PARTIAL
    if args.statistics:
        print('\n'.join(stats.lines()))
    sys.stdout.flush()
    return status


if __name__ == '__main__':
    sys.exit(main())
