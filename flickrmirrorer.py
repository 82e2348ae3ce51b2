#!/usr/bin/env python3
"""flickrmirrorer: keep a complete, trustworthy local mirror of your own Flickr account.

    ./flickrmirrorer.py /mnt/backup/flickr/

The file reads one way: a section uses only names defined in the sections above it (a test
parses the module to check): plain text helpers, errors and reporting; configuration, the
transport, the API client and the login; the destination, the typed actions, the one photo
model; the planners (what each photo needs, file checks, the files, free accounts, the data
export, the trees, galleries and groups); the executor; the views (XMP, HTML, the registry);
enrichment; the report; the run and the command line.  The pipeline, stage by stage:

  1. configure  API key, endpoints (FLICKR_API_BASE), destination lock
  2. login      OAuth 1.0a through flickrapi, read-only, token cached on disk
  3. list       the transport (one session layer per service; judge_status judges every
                answer's status, judge_file_response and check_image_head a file's,
                judge_thumbnail a thumbnail's, classify_flickr_error Flickr's error codes;
                the pacer within the hourly budget; retries) and the API client, one
                method per Flickr method: walk the photostream page by page (500 a page) with every extra we
                need; a page that comes back short is asked for again, and a walk that did
                not see every photo (or saw the total change) is incomplete: nothing is
                deleted after it.  Then the albums and the collection tree.
  4. plan       compare each listed photo with what the destination holds (its .metadata,
                read as a Photo, the one class of a photo, which the views read too;
                what the run keeps of every photo is a Photo without its records):
                download, adopt an original put there by hand, ask again for a refused
                video original, rewrite metadata, enrich, or nothing (a PhotoTask).
  5. files      FilesStage: plan and download in parallel from the listing alone (url_o;
                a video's play addresses; getSizes only where the listing lacks what is
                needed, or where every address built from it failed), with one table of
                what to fetch (the original, else the tallest rendition or largest size),
                each a Download action the Executor fetches (temporary name, checks, fsync,
                rename); then SetTime and WriteMetadata (metadata from the listing, written
                atomically).  A long wait asked for by the file servers (FilesHeldBack)
                stops the downloads, the files left counted; the rest of the run goes on
  6. trees      TreeBuilder plans the album / collection / "Not in any album" directories
                of symlinks, Tidier the deletion of what is gone from Flickr (only with
                --delete-unknown, only after a complete listing, capped): typed actions
                (MakeDir, RenameDir, RemoveDir, Link, Unlink, WriteMetadata, Delete) that
                the Executor applies
  7. views      make_views(): photostream.json, not-original.txt, the XMP sidecars and the
                browsable HTML view, each made again only when the hash of its inputs
                changed (.flickrmirrorer-views.json) or --verify asks; each file a
                WriteFile (or WriteChunks) action where its content changes, each thumbnail
                a FetchThumbnail, their many files synced a thousand at a time before their
                renames (SyncBatch)
  8. enrich     EnrichStage: photos.getInfo and comments for each photo not yet read at its
                lastupdate, paced evenly within the hourly budget (a token bucket); each
                photo's metadata rewritten as its answers arrive, so a killed run resumes.
                Then AccountLists: galleries.json, groups.json and the albums' comments (each
                list asked once a run; a gallery, a pool or comments read only when it moved),
                and with --favorites FavoritesMirror: Favorites/ (a favourite's file fetched
                only when new or replaced by its owner).
                A quick enrichment comes before the views (made once), the HTML view's
                thumbnails coming beside it (Thumbnails: CDN requests, not API calls); a
                long one after them, and they are made again when it is done
  9. report     one line at the end, the statistics (Stats.OUTCOMES: every kind of item that
                makes the exit status 1 has its line); exit status 0 all mirrored, 1 some
                items failed or the listing was incomplete, 2 usage / configuration /
                login error, 3 another run holds the destination, 130 interrupted.
                mirror_account() wires the stages.

The options are read-only once parsed (Options); what a run learns as it goes (the
destination resolved, the account, the data export, a free account) is kept in its
RunContext, which run() hands to the stages.

Without an API key (new keys need Flickr Pro since 2025), or with --offline, Flickr's data
export alone makes the same tree: mirror_export() wires the export's import
(ExportAlone.import_alone), the trees and the views, with no listing, no login and never a
deletion; a later run with a key adopts that mirror (plan_photo keeps a file from the export
that fits the listing).

Every change of the destination's content (the files, their times and metadata, the trees,
the deletions, the export's import, the account files, the views and their thumbnails) is
an action the planners yield (Download, Import, Adopt, SetTime, WriteMetadata, WriteFile,
WriteChunks, FetchThumbnail, MakeDir, RenameDir, RemoveDir, Link, Unlink, Delete) and the
Executor alone applies and counts.  The dry run is the same code with a dry Executor: it
prints each action, one a line with its path ("would link: Albums/... -> ...", "would
download: photostream/123.mp4 <- URL"), counts it as the real run's counts it, and keeps
the metadata it would have written, so that the views after it are made from it (their
files compared with the destination's, and those that would change printed).  Of the
downloads it asks only for a video's file (only its answer tells whether Flickr gives it,
and its name) and reads none of its body; enrichment it counts, asking nothing.  Outside
the plan are only the run's claim on the destination (created, locked, a killed run's
temporary files removed) and the removal of a thumbnails directory an interrupted run just
made; a dry run does none of them.  --verify adds a re-hash of every file.  Every path the
run creates, replaces, renames, re-times or deletes passes one guard, guarded(), which the
Executor's operations call: inside the destination and reached through no symbolic link; a
link where the mirror keeps a file or directory of its own (photostream, html,
html/thumbs, account, the lock, a view's file, an album's directory) stops that part of the
run, named (LinkInTheWay), and nothing is changed through it.

Output tree:

    dest/photostream/12345.jpg                 the original file (else the best Flickr gives)
    dest/photostream/12345.jpg.metadata        JSON: listing extras, file hash and label, then
                                               photos.getInfo and comments once enriched
    dest/Not in any album/12345.jpg -> ../photostream/12345.jpg
    dest/Albums/Waterfalls - 6789/1_12346.jpg -> ../../photostream/12346.jpg
    dest/Albums/Waterfalls - 6789/metadata     JSON: the album and its photo order
    dest/Collections/Nature - 2634-98761234/Waterfalls - 6789 -> ../../Albums/Waterfalls - 6789
    dest/photostream.json, dest/index.html, dest/html/
    dest/galleries.json, dest/groups.json      your galleries and groups, with your photos in each
    dest/photostream/12345.jpg.xmp             XMP sidecar: title, tags, albums as keywords...
    dest/not-original.txt                      what is kept as another version, and what to do
    dest/account/                              Flickr's data export's account files (--import-export)
    dest/Favorites/3000123.jpg                 with --favorites: others' photos you faved, credited
"""

import signal
import sys
import threading


def interrupted_while_starting(signum, frame):
    """Ctrl+C while Python loads the libraries or reads the command line: nothing was begun,
    nothing to undo; a line, not a traceback."""
    sys.stderr.write('Error: interrupted before the run began; nothing was changed.\n')
    raise SystemExit(130)


def quiet_interrupts_while_starting():
    """Returns the SIGINT handler to put back once the run can take Ctrl+C itself (None
    when it is not ours to change: not the main thread, or SIGINT ignored by our starter)."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return None
    return signal.signal(signal.SIGINT, interrupted_while_starting)


_sigint_before_imports = quiet_interrupts_while_starting()

import argparse
import array
import concurrent.futures
import dataclasses
import configparser
import contextlib
import contextvars
import ctypes
import errno
import fcntl
import functools
import gc
import hashlib
import html
import html.parser
import io
import itertools
import json
import logging
import math
import os
import random
import re
import shlex
import shutil
import socket
import sqlite3
import ssl
import stat
import struct
import tempfile
import termios
import time
import types
import datetime
import unicodedata
import warnings
import zipfile
import zlib
from collections import Counter, namedtuple
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import dateutil.parser
import flickrapi
import flickrapi.auth
import markupsafe
import nh3
import requests
import tenacity
import tqdm

if _sigint_before_imports is not None:   # importing is not running: Ctrl+C is Python's again
    signal.signal(signal.SIGINT, _sigint_before_imports)

VERSION = '1.0.0'

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_BUSY = 3            # another run holds the destination: nothing was done, nothing is wrong
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
FAVORITES_DIR = 'Favorites'       # --favorites: other people's photos, kept apart from yours
FAVORITE_KEY = 'favorite'         # a favourite's .metadata: its owner, licence and page
METADATA_SUFFIX = '.metadata'
DIR_METADATA_NAME = 'metadata'
TMP_PREFIX = '.flickrmirrorer-tmp-'
LOCK_NAME = '.flickrmirrorer.lock'
METADATA_FORMAT = 1
# A photo's .metadata: format 2 records the enrichment ('enriched': its lastupdate) and
# whether the file is the original.
PHOTO_METADATA_FORMAT = 2

MAX_NAME_BYTES = 255
DOWNLOAD_CHUNK = 1 << 20
DEFAULT_JOBS = 6
DEFAULT_MAX_CALLS_PER_HOUR = 3500
MAX_ERRORS_IN_A_ROW = 50
DELETE_SHARE_LIMIT = 0.10
DELETE_COUNT_FLOOR = 50


def program_name():
    """The program as it was invoked ('flickrmirrorer' installed, 'flickrmirrorer.py' from a
    clone), the one form every message that names it uses; argparse's %(prog)s is the same."""
    return os.path.basename(sys.argv[0] or '') or 'flickrmirrorer'


def import_command(dest):
    """The command that imports the data export into this mirror."""
    return '%s %s --import-export FOLDER' % (program_name(), shlex.quote(dest))


# Since early 2025 Flickr gives new API keys to Pro members only ("API key creation is
# currently disabled for free accounts"); a key made before keeps working.  Without one,
# Flickr's data export alone makes the whole mirror (mirror_export), and a later run with a
# key adopts it.
def get_an_api_key():
    return ('No Flickr API key.  With your own key %s reads Flickr\'s API: a key you '
            'already have keeps working; a new one, at https://www.flickr.com/services/apps/create/, '
            'needs Flickr Pro since 2025.  Without a key, Flickr\'s data export gives a complete '
            'mirror: ask for it at https://www.flickr.com/account ("Request my Flickr data"), save '
            'its zips in a folder, then run: %s' % (program_name(), import_command('DEST')))


def no_api_key_help(config_path):
    return get_an_api_key() + (
        '.  A key is passed with --api-key KEY --api-secret SECRET, or FLICKR_API_KEY and '
        'FLICKR_API_SECRET, or written to %s as\n[flickr]\napi_key = KEY\napi_secret = SECRET' % config_path)


# Flickr error codes (https://www.flickr.com/services/api/) and what they mean to us.
FLICKR_NOT_FOUND = 1
FLICKR_AUTH_CODES = (96, 97, 98, 99, 100)
# A wrong key or secret is fixed in the configuration; only a refused token needs a new login
# (and a new login would not help the others: it would only throw away a good token).
CHECK_KEY_SOURCES = '(--api-%s, FLICKR_API_%s or the config file)'
# (%(error)s: Flickr's message; %(program)s: program_name())
AUTH_ERROR_ADVICE = {
    100: 'Flickr does not know this API key (%%(error)s).  Check the API key %s; your stored login is '
         'fine.' % (CHECK_KEY_SOURCES % ('key', 'KEY')),
    96: 'Flickr rejected the signature of our requests (%%(error)s): the API secret does not belong to the '
        'API key, or this computer\'s clock is far off.  Check the API secret %s; your stored login '
        'is fine, do not log in again.' % (CHECK_KEY_SOURCES % ('secret', 'SECRET')),
    98: 'Flickr refused the stored login (%(error)s): it was revoked or has expired.  Log in again: run '
        '%(program)s by hand with --relogin.',
    99: 'The stored login lacks read permission (%(error)s).  Log in again: run %(program)s by hand '
        'with --relogin.',
}
AUTH_ERROR_ADVICE[97] = AUTH_ERROR_ADVICE[96]
# 201 is "Sorry, the Flickr API service is not currently available." (HTTP 200); 105 and
# 106 say much the same.  Like a 429, they pause every worker for a moment.
FLICKR_TRANSIENT_CODES = (0, 105, 106, 201)
SERVICE_UNAVAILABLE_RE = re.compile(r'not currently available|service unavailable|temporarily unavailable', re.I)
TRANSIENT_HTTP_STATUSES = (429, 500, 502, 503, 504)


# ---------------------------------------------------------------------------
# Text and shapes: plain helpers every section uses
# ---------------------------------------------------------------------------

def human_minutes(seconds):
    return '%d min' % round(seconds / 60) if seconds >= 90 else '%d s' % round(seconds)


def human_duration(seconds):
    minutes = int(seconds // 60)
    if minutes < 60:
        return '%d min' % max(minutes, 1)
    return '%d h %d min' % (minutes // 60, minutes % 60)


def human_elapsed(seconds):
    if seconds < 60:
        return '%.1f s' % seconds
    minutes, seconds = divmod(int(seconds), 60)
    return '%d min %02d s' % (minutes, seconds) if minutes < 60 else '%d h %02d min' % divmod(minutes, 60)


def plural(n, word):
    """'1 photo', '2 photos': every count the program says goes through here."""
    return '%s %s%s' % ('{:,}'.format(n) if n >= 10000 else n, word, '' if n == 1 else 's')


def human_bytes(n):
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if n < 1024 or unit == 'GiB':
            return ('%d %s' if unit == 'B' else '%.1f %s') % (n, unit)
        n /= 1024.0


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__


def to_int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def text_of(value):
    """Flickr text nodes come as {'_content': ...} in some answers and plain strings in
    others; anything else (a damaged file) is no text."""
    if isinstance(value, dict):
        value = value.get('_content')
    return value if isinstance(value, str) else ''


# A title cut inside an emoji reaches us as a JSON escape without its partner ("\\ud800"):
# JSON decodes it to a lone surrogate, which no file name and no UTF-8 file can hold.
LONE_SURROGATE_RE = re.compile('[\ud800-\udfff]')


def valid_text(text):
    """Text that can be written anywhere: each lone surrogate becomes U+FFFD."""
    return LONE_SURROGATE_RE.sub('\ufffd', text)


def escape_surrogates(json_text):
    """JSON text with each lone surrogate written as its escape: the value as received,
    kept (a .metadata), in valid UTF-8."""
    return LONE_SURROGATE_RE.sub(lambda m: '\\u%04x' % ord(m.group()), json_text)


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def as_scalar(value):
    """A string or a number as a string; anything else ''."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ''


# What XML 1.0 cannot carry and the C0/C1 controls a page or a photo manager would show as
# junk (tab and newline stay: descriptions have lines).
_NOT_TEXT_RE = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]')


def clean_text(text):
    """Text without control characters (NUL included) or what XML cannot hold."""
    return _NOT_TEXT_RE.sub('', valid_text(text or '')).replace('\r\n', '\n').replace('\r', '\n')

# -- small helpers

def add_packed(mapping, key, value):
    """mapping[key] holds one int as itself and several as a tuple: for 100,000 photos a
    small int each, not a list each.  Read it back with packed_values()."""
    held = mapping.get(key)
    mapping[key] = value if held is None else packed_values(held) + (value,)


def packed_values(held):
    return held if isinstance(held, tuple) else (held,)


def albums_by_photo(albums):
    """photo id -> the number of its album in `albums` ((album, photo ids) pairs), packed."""
    held = {}
    for n, (_, photo_ids) in enumerate(albums):
        for pid in photo_ids:
            add_packed(held, pid, n)
    return held


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


_NOT_PAGE_ID_RE = re.compile(r'[^0-9A-Za-z_-]')


def page_id(item_id):
    """An id as used in a file name; Flickr ids are digits (collections 'N-M')."""
    item_id = str(item_id)
    return item_id if item_id.isdigit() and item_id.isascii() else _NOT_PAGE_ID_RE.sub('_', item_id)


# ---------------------------------------------------------------------------
# Errors: what stops the run (with its exit status) and what only skips an item
# ---------------------------------------------------------------------------

class FatalError(Exception):
    """Stops the run with a one-line message and the given exit status."""

    def __init__(self, message, status=EXIT_PARTIAL):
        super().__init__(message)
        self.status = status


class LinkInTheWay(FatalError):
    """A symbolic link where the mirror keeps a file or directory of its own (or a path that
    would lead out of the destination): nothing is written, re-timed or deleted through it.
    It stops the part of the run that needed that path (a view, an album, a photo), named in
    one line; the run ends with status 1."""

    def __init__(self, path, outside=False):
        super().__init__(("'%s' is outside the destination; flickrmirrorer changes nothing there." % path) if outside
                         else ("'%s' is a symbolic link where flickrmirrorer keeps its own files; it writes, re-times "
                               "and deletes nothing through it.  Move it away to let the mirror rebuild it." % path))
        self.path = path


class AuthError(FatalError):
    def __init__(self, message):
        super().__init__(message, EXIT_USAGE)


class TransientError(Exception):
    """Worth retrying: the network, a 5xx, a 429, or Flickr's "service unavailable".
    `pause_all`: the service as a whole is unwell, so every worker should hold back."""

    def __init__(self, message, retry_after=None, pause_all=False):
        super().__init__(message)
        self.retry_after = retry_after
        self.pause_all = pause_all or retry_after is not None


class ItemError(Exception):
    """One photo cannot be mirrored now; report it, skip it, go on."""


class NotFoundError(ItemError):
    pass


class OriginalRefused(Exception):
    """Flickr lists an original but will not hand it to an API client (video originals: a 404
    or a sign-in page).  Not a failure: the best version it does give is kept instead."""


class QuotaSpent(Exception):
    """Flickr's hourly limit of API calls for this key is used up (a 429 whose Retry-After
    is longer than any passing load asks for).  Not an outage: it frees up `at`."""

    def __init__(self, seconds):
        super().__init__('Flickr\'s hourly limit of API calls for this key is used up; it frees up at %s (in %s)'
                         % (time.strftime('%H:%M', time.localtime(time.time() + seconds)), human_minutes(seconds)))
        self.seconds = seconds
        self.at = time.monotonic() + seconds


class FilesHeldBack(Exception):
    """Flickr's file servers asked for a wait longer than any retry's (a 429 or 503 whose
    Retry-After is long): no file is asked for until then; the downloads of this run stop
    cleanly, the rest of the run goes on, and the next run fetches the files left."""

    def __init__(self, seconds):
        self.until = time.strftime('%H:%M', time.localtime(time.time() + seconds))
        super().__init__('Flickr\'s file servers asked us to wait %s, until %s' % (human_minutes(seconds), self.until))
        self.seconds = seconds
        self.at = time.monotonic() + seconds


# ---------------------------------------------------------------------------
# Reporting: stdout for routine status, stderr for errors, statistics
# ---------------------------------------------------------------------------

@dataclass
class Stats:
    new: int = 0                 # photos and videos, new_videos of them videos
    new_videos: int = 0
    updated: int = 0             # files replaced
    metadata_updated: int = 0
    enriched: int = 0
    originals_recovered: int = 0
    not_original: int = 0        # items kept as another version than the original
    deleted: int = 0
    skipped: int = 0
    failed: int = 0              # files that could not be mirrored
    metadata_failed: int = 0     # files mirrored whose getInfo / comments could not be read
    listing_incomplete: int = 0
    dirs_left_alone: int = 0
    links_in_the_way: set = field(default_factory=set)   # the links that stopped a part of the run
    unrepaired: int = 0
    stopped: int = 0
    interrupted: int = 0         # Ctrl+C or SIGTERM: no failure, the next run goes on
    bytes: int = 0
    albums_new: int = 0
    albums_updated: int = 0
    albums_deleted: int = 0
    collections_new: int = 0
    collections_updated: int = 0
    collections_deleted: int = 0
    verified: int = 0
    metadata_left: int = 0       # photos not enriched: the hour's quota was spent
    metadata_left_eta: str = ''
    files_left: int = 0          # files not fetched: Flickr's file servers asked for a long wait
    files_left_until: str = ''   # ... until then (HH:MM)
    damaged: int = 0
    missing: int = 0
    export_imported: int = 0     # originals from Flickr's data export (--import-export)
    export_unmatched: int = 0
    export_failed: int = 0
    extras_failed: int = 0       # the galleries or the groups could not be read
    favorites_new: int = 0       # --favorites: files of others' photos downloaded
    favorites_removed: int = 0
    favorites_failed: int = 0
    api_calls: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    # What --statistics prints, in order: (label, attribute or function of the stats, does a
    # non-zero count make the exit status 1?).  A new kind of outcome is one line here, and the
    # exit status, the statistics and the end-of-run line then agree by construction.
    OUTCOMES = (
        ('New photos', lambda s: s.new - s.new_videos, False),
        ('New videos', 'new_videos', False),
        ('Updated photos / videos', 'updated', False),
        ('Updated metadata', 'metadata_updated', False),
        ('Enriched metadata (photos.getInfo)', 'enriched', False),
        ('Originals that replaced a kept version', 'originals_recovered', False),
        ('Kept as another version than the original', 'not_original', False),
        ('Deleted photos / videos', 'deleted', False),
        ('Skipped (ignored media type)', 'skipped', False),
        ('New albums', 'albums_new', False),
        ('Updated albums', 'albums_updated', False),
        ('Removed albums', 'albums_deleted', False),
        ('New collections', 'collections_new', False),
        ('Updated collections', 'collections_updated', False),
        ('Removed collections', 'collections_deleted', False),
        ('Originals imported from the data export', 'export_imported', False),
        ('Export files not imported (see the warnings)', 'export_unmatched', False),
        ('Export files that could not be read', 'export_failed', True),
        ('Failed (tried again next run)', 'failed', True),
        ('Metadata not read (tried again next run)', 'metadata_failed', True),
        ('Listing incomplete (nothing deleted)', 'listing_incomplete', True),
        ('Galleries or groups not read (tried again next run)', 'extras_failed', True),
        ('New favourites', 'favorites_new', False),
        ('Removed favourites (no longer favourites)', 'favorites_removed', False),
        ('Favourites not kept (tried again next run)', 'favorites_failed', True),
        ('Directories left alone (symlinks out of the mirror)', 'dirs_left_alone', True),
        ('Parts not made (a symbolic link in the way)', lambda s: len(s.links_in_the_way), True),
        ('Damaged or missing files not repaired', 'unrepaired', True),
        ('Run stopped early (see the error)', 'stopped', True),
        ('Files left (Flickr asked to wait; the next run fetches them)', 'files_left', True),
        ('Interrupted (Ctrl+C or SIGTERM)', 'interrupted', False),
    )

    def count(self, how):
        return how(self) if callable(how) else getattr(self, how)

    def failures(self):
        """How many items make the exit status 1."""
        return sum(self.count(how) for _, how, fails in self.OUTCOMES if fails)

    def exit_status(self):
        return EXIT_PARTIAL if self.failures() else EXIT_OK

    def elapsed(self):
        return time.monotonic() - self.started

    def summary(self, dry_run=False, interrupted=False):
        """The end-of-run line."""
        counts = '%d new, %d updated, %d deleted, %d failed' % (
            self.new, self.updated + self.metadata_updated, self.deleted, self.failures())
        if dry_run:
            return 'Dry run, nothing changed; the run would make %s.' % counts
        done = '%s, %s downloaded in %s' % (counts, human_bytes(self.bytes), human_elapsed(self.elapsed()))
        if interrupted:
            return 'Interrupted after %s; the next run goes on from there.' % done
        left = []
        if self.files_left:
            left.append('%s left; Flickr asked to wait until %s' % (plural(self.files_left, 'file'),
                                                                   self.files_left_until))
        if self.metadata_left:
            left.append('metadata of %s left: %s' % (plural(self.metadata_left, 'photo'), self.metadata_left_eta))
        return 'Done: %s.' % '; '.join([done] + left)

    def calls_by_stage(self):
        stages = Counter({'listing': 0, 'files': 0, 'metadata': 0})
        for method, n in self.api_calls.items():
            stages[STAGE_OF_METHOD.get(method, 'listing')] += n
        return list(stages.items())

    def lines(self):
        calls = sum(self.api_calls.values())
        by_method = ', '.join('%s %d' % (m.replace('flickr.', ''), n)
                              for m, n in sorted(self.api_calls.items()))
        return ['%s: %d' % (label, self.count(how)) for label, how, _ in self.OUTCOMES] + [
            'Downloaded: %s' % human_bytes(self.bytes),
            'API calls: %d%s' % (calls, ' (%s)' % by_method if calls else ''),
            'API calls by stage: %s' % ', '.join('%s %d' % (stage, n) for stage, n in self.calls_by_stage()),
            'Elapsed: %.1f s' % self.elapsed(),
        ]


# Which stage a Flickr method's calls belong to (for --statistics): the files stage asks
# getSizes for videos only; enrichment reads getInfo, comments and people, then the galleries,
# groups and album comments (AccountLists); the rest is listing.
STAGE_OF_METHOD = {'flickr.photos.getSizes': 'files', 'flickr.photos.getInfo': 'metadata',
                   'flickr.photos.comments.getList': 'metadata', 'flickr.photos.people.getList': 'metadata',
                   'flickr.galleries.getList': 'metadata',
                   'flickr.galleries.getPhotos': 'metadata', 'flickr.people.getGroups': 'metadata',
                   'flickr.groups.pools.getPhotos': 'metadata', 'flickr.photosets.comments.getList': 'metadata',
                   'flickr.favorites.getList': 'metadata'}


class Reporter:
    """Thread-safe output: info to stdout (not under -q), details under -v, errors to stderr.

    Under -q (cron) a warning is held, not printed: a run that ends well prints nothing at all,
    and one that fails prints what it held before its first error, so the mail explains itself."""

    def __init__(self, quiet=False, verbose=False, progress=False):
        self.quiet = quiet
        self.verbose = verbose
        self.show_progress = progress and not quiet
        self._bar = None
        self._lock = threading.Lock()
        self._held = []
        self.errors = 0

    def _write(self, stream, message):
        message = valid_text(message)
        with self._lock:
            if self._bar is not None:
                self._bar.write(message, file=stream)
            else:
                stream.write(message + '\n')
                stream.flush()

    def progress_bar(self, description, total=None):
        """A tqdm bar on a terminal (count, rate, ETA); None under -q or when not a terminal,
        so that cron mail stays clean."""
        if not self.show_progress:
            return None
        self._bar = tqdm.tqdm(desc=description, total=total, unit=' photos', file=sys.stdout,
                              dynamic_ncols=True, leave=False)
        return self._bar

    def close_progress(self):
        if self._bar is not None:
            self._bar.refresh()   # the last count, however fast it came
            self._bar.close()
            self._bar = None

    def info(self, message):
        if not self.quiet:
            self._write(sys.stdout, message)

    def detail(self, message):
        if self.verbose and not self.quiet:
            self._write(sys.stdout, message)

    def error(self, message):
        self.release_warnings()
        self.errors += 1
        self._write(sys.stderr, 'Error: ' + message)

    def warning(self, message):
        if self.quiet:
            with self._lock:
                self._held.append(message)
        else:
            self._write(sys.stderr, 'Warning: ' + message)

    def release_warnings(self):
        """The warnings held under -q, printed once the run is known to fail."""
        with self._lock:
            held, self._held = self._held, []
        for message in held:
            self._write(sys.stderr, 'Warning: ' + message)

    def prompt(self, message):
        """Login instructions: always shown, on stderr so that stdout stays status only."""
        self._write(sys.stderr, message)


# ---------------------------------------------------------------------------
# Configuration: API key, endpoints
# ---------------------------------------------------------------------------

def default_config_path():
    base = os.environ.get('XDG_CONFIG_HOME') or os.path.expanduser('~/.config')
    return os.path.join(base, 'flickrmirrorer', 'config.ini')


def find_api_credentials(args, environ, ask=True):
    """The API key and secret from the flags, the environment or the config file, in that
    order.  None of them: asked for on a terminal (`ask`), else (None, None) when not
    `ask` (the data export alone then makes the mirror), else the run stops."""
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
    if bool(key) != bool(secret):   # half a key: say which half is missing, and where we looked
        found, missing = ('key', 'secret') if key else ('secret', 'key')
        raise FatalError('Found an API %s but no API %s: add it with --api-%s, FLICKR_API_%s, or as '
                         '"api_%s = ..." under [flickr] in %s.'
                         % (found, missing, missing, missing.upper(), missing, config_path), EXIT_USAGE)
    if not (key and secret) and not ask:
        return None, None
    if not (key and secret):
        key, secret = ask_for_api_key(config_path) if sys.stdin.isatty() else (None, None)
    if not (key and secret):
        raise FatalError(no_api_key_help(config_path), EXIT_USAGE)
    return key.strip(), secret.strip()


def ask_for_api_key(config_path):
    """On a terminal: let the user type the key and secret once, and keep them in the config
    file (0600: the secret is a password).  (None, None) when nothing was typed."""
    sys.stderr.write(get_an_api_key() + '.\nType your key and secret here to keep them in %s (or press '
                     'Enter to stop).\nAPI key: ' % config_path)
    sys.stderr.flush()
    key = sys.stdin.readline().strip()
    if not key:
        return None, None
    secret = read_without_echo('API secret: ')
    if not secret:
        return None, None
    write_config(config_path, key, secret)
    sys.stderr.write('Saved in %s.\n' % config_path)
    return key, secret


def read_without_echo(prompt):
    """A line typed on the terminal of stdin, not shown (the API secret is a password).
    getpass would read /dev/tty, which a terminal that started us need not be."""
    fd = sys.stdin.fileno()
    before = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO
    # echo off before the prompt shows, and nothing typed ahead is thrown away (TCSADRAIN)
    termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
    try:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        return sys.stdin.readline().strip()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, before)
        sys.stderr.write('\n')


def write_config(path, key, secret):
    parser = configparser.ConfigParser()
    parser.read(path, encoding='utf-8')   # keep anything else the file holds
    if not parser.has_section('flickr'):
        parser.add_section('flickr')
    parser.set('flickr', 'api_key', key)
    parser.set('flickr', 'api_secret', secret)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        parser.write(f)


# Where a video's play addresses are (built from the listing, as Flickr's own pages do).
FLICKR_WEB_BASE = 'https://www.flickr.com'
WEB_BASE = FLICKR_WEB_BASE


def configure_endpoints(base):
    """Point flickrapi at another Flickr (the local emulation in tests).  Unset: the real one."""
    global WEB_BASE
    if not base:
        return
    base = base.rstrip('/')
    WEB_BASE = base
    flickrapi.FlickrAPI.REST_URL = base + '/rest/'
    oauth = flickrapi.auth.OAuthFlickrInterface
    oauth.REQUEST_TOKEN_URL = base + '/oauth/request_token'
    oauth.AUTHORIZE_URL = base + '/oauth/authorize'
    oauth.ACCESS_TOKEN_URL = base + '/oauth/access_token'


# ---------------------------------------------------------------------------
# Transport: stay under Flickr's hourly budget, one judge of answers, ride out failures
# ---------------------------------------------------------------------------

MAX_RETRY_WAIT = 120.0   # the longest wait before a retry, whatever Flickr's Retry-After says


def announce_pause(reporter, what, asked, waiting):
    """Say how long Flickr asked us to wait; short waits are routine (-v only)."""
    if waiting is None:
        return
    until = time.strftime('%H:%M', time.localtime(time.time() + asked))
    say = reporter.info if asked >= 60 else reporter.detail
    say('Flickr asked us to wait %s (until %s) before %s; trying again in %s (Ctrl+C stops).'
        % (human_minutes(asked), until, what, human_minutes(waiting)))


def pause_everybody(gate, error, policy, reporter, what):
    """Hold every worker behind `gate` as long as Flickr asked (else a moment), and say so."""
    asked = error.retry_after if error.retry_after is not None else policy.initial_wait
    announce_pause(reporter, what, asked, gate.pause(asked))


def wait_unless_stopped(stop_event, seconds):
    """Sleep, every waiting thread waking at once on Ctrl+C or SIGTERM.  In slices: a signal
    that comes just as a long wait begins is otherwise handled only when it ends."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if stop_event.wait(min(max(left, 0), 0.25)):
            raise KeyboardInterrupt
        if left <= 0.25:
            return


class PauseGate:
    """Everybody waits while Flickr asked us to: a 429 (or a 201 / 503) pauses every worker
    that talks to the same service, not only the one that was told."""

    def __init__(self, clock=time.monotonic, max_pause=MAX_RETRY_WAIT):
        self._clock = clock
        self.max_pause = max_pause
        self._until = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds, cap=True):
        """Hold everybody for `seconds`, at most max_pause unless not `cap` (waiting for the
        quota, said so): a Retry-After of an hour must not stall the run silently.  Returns
        the seconds of the new pause, or None when an earlier pause already covers it (so
        that it is announced once)."""
        seconds = min(seconds, self.max_pause) if cap else seconds
        with self._lock:
            until = self._clock() + seconds
            if until <= self._until:
                return None
            self._until = until
            return seconds

    def remaining(self):
        with self._lock:
            return self._until - self._clock()


class CallPacer:
    """A token bucket: `per_hour` API calls an hour at the most, spent evenly.

    Flickr allows about 3600 calls per hour per key.  A sliding window would let a big
    run spend the hour's budget in its first minutes and then stall for fifty; a bucket
    refilled at an even rate, with a small burst for the listing, keeps enrichment going
    steadily.  The refill rate leaves room for the burst, so any hour holds at most
    `per_hour` calls.  A 429 pauses everybody (the gate)."""

    def __init__(self, per_hour, burst=None, clock=time.monotonic, sleep=None, stop_event=None):
        self.per_hour = per_hour
        # a small burst (at most 50 calls, five minutes of the budget) for the listing and
        # the files stage, so that those rarely wait for the budget
        self.burst = burst if burst is not None else max(1, min(50, per_hour // 12))
        self.rate = max(per_hour - self.burst, 1) / 3600.0   # tokens per second
        self._clock = clock
        self._stop = stop_event or threading.Event()
        self._sleep = sleep or self._wait_unless_stopped
        self._tokens = float(self.burst)
        self._last = clock()
        self.gate = PauseGate(clock)
        self._lock = threading.Lock()

    def _wait_unless_stopped(self, seconds):
        wait_unless_stopped(self._stop, seconds)

    def acquire(self):
        while True:
            wait = self.gate.remaining()
            if wait <= 0:
                with self._lock:
                    now = self._clock()
                    self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                    self._last = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self.rate
            self._sleep(min(max(wait, 0.001), 60))

    def pause(self, seconds):
        """Hold every call for `seconds` (a 429's Retry-After); see PauseGate.pause."""
        return self.gate.pause(seconds)

    def seconds_for(self, calls):
        """How long `calls` more calls take at this budget (for an honest ETA)."""
        return max(0.0, calls - self._tokens) / self.rate


@dataclass
class RetryPolicy:
    attempts: int = 6
    initial_wait: float = 1.0
    max_wait: float = MAX_RETRY_WAIT
    stop_event: threading.Event = field(default_factory=threading.Event)

    def sleep(self, seconds):
        """Wait before a retry, but wake up at once on Ctrl+C."""
        wait_unless_stopped(self.stop_event, seconds)


def retry_wait(policy):
    """Exponential backoff with jitter, or what the server's Retry-After asked for."""
    backoff = (tenacity.wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait)
               + tenacity.wait_random(0, policy.initial_wait))

    def wait(retry_state):
        exc = retry_state.outcome.exception()
        retry_after = getattr(exc, 'retry_after', None)
        if retry_after is not None:   # capped: a Retry-After of hours must not stall the run silently
            return min(retry_after, policy.max_wait) + random.uniform(0, policy.initial_wait)
        if getattr(exc, 'cdn_burst', False):
            return min(backoff(retry_state), CDN_BURST_MAX_WAIT)
        return backoff(retry_state)
    return wait


# Flickr's CDN answers 403 to originals in bursts that pass (a retry after about 10 s works:
# markdoliner/flickrmirrorer PR #25).  Such a 403 spends a third of an attempt, and its
# waits stay short: a burst slows the downloads, it does not fail them.
CDN_BURST_PATIENCE = 3
CDN_BURST_MAX_WAIT = 15.0


def attempts_spent(attempts):
    """A tenacity stop: after `attempts` failed tries, a CDN burst's 403 counting a third."""
    spent = [0]

    def stop(retry_state):
        burst = getattr(retry_state.outcome.exception(), 'cdn_burst', False)
        spent[0] += 1 if burst else CDN_BURST_PATIENCE
        return spent[0] >= attempts * CDN_BURST_PATIENCE
    return stop


def with_retries(policy, operation, reporter, what):
    """Run `operation()` until it succeeds, retrying TransientError as the policy says."""
    def log(retry_state):
        reporter.detail('Retrying %s after: %s' % (what, retry_state.outcome.exception()))
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        wait=retry_wait(policy),
        stop=attempts_spent(policy.attempts),
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


# -- one judge: what an HTTP answer or a failed request means
# The API client, the downloads and the thumbnails all act on these verdicts; nowhere else
# reads an HTTP status or lists the network's exceptions.

NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                  requests.exceptions.ContentDecodingError)
# Where Flickr may refuse what was asked for (a video original it keeps for browsers).
REFUSED_STATUSES = (401, 403, 404, 410)


def judge_status(response, what, refusable=False, api=False, cdn_original=False):
    """None for a 200; else the verdict, as the exception to raise: QuotaSpent (from the
    `api`, a 429 asking for a wait longer than MAX_RETRY_WAIT), FilesHeldBack (the same
    from the file servers, or a 503 so long), TransientError (429 and 503,
    or any Retry-After, pause everybody; so does a 403 where `cdn_original`, a photo
    original, which Flickr's CDN refuses in bursts that a retry after a while gets through),
    OriginalRefused (a 401/403/404/410 where `refusable`), ItemError (failed)."""
    status = response.status_code
    if status == 200:
        return None
    asked = parse_retry_after(response.headers.get('Retry-After'))
    if api and status == 429 and asked is not None and asked > MAX_RETRY_WAIT:
        return QuotaSpent(asked)
    if not api and status in (429, 503) and asked is not None and asked > MAX_RETRY_WAIT:
        return FilesHeldBack(asked)
    cdn_burst = cdn_original and status == 403 and not refusable
    if status in TRANSIENT_HTTP_STATUSES or cdn_burst:
        verdict = TransientError('HTTP %d for %s' % (status, what), asked,
                                 pause_all=status in (429, 503) or cdn_burst)
        verdict.cdn_burst = cdn_burst
        return verdict
    if refusable and status in REFUSED_STATUSES:
        return OriginalRefused('Flickr refused the original of %s (HTTP %d)' % (what, status))
    return ItemError('HTTP %d for %s' % (status, what))


def network_failure(error, what):
    """The verdict on a request that got no answer (or a broken one): worth another try."""
    return TransientError(network_error_text(error, what))


def network_error_text(error, what):
    """One line a person reads: what was asked, of which host, what happened.  requests and
    urllib3 wrap the cause in reprs of their own (pools, retries); those are left out."""
    url = getattr(getattr(error, 'request', None), 'url', None) or ''
    host = urlsplit(url).netloc.rpartition('@')[2]
    asked = '%s, asked of %s' % (what, host) if host and host not in what else what
    return '%s: %s' % (asked, network_reason(error))


def error_causes(error):
    """The error and what it wraps, outermost first (requests and urllib3 nest them through
    __cause__, a MaxRetryError's `reason` and the first argument)."""
    causes = []
    while isinstance(error, BaseException) and error not in causes and len(causes) < 12:
        causes.append(error)
        reason = getattr(error, 'reason', None)
        first = error.args[0] if error.args else None
        error = next((e for e in (error.__cause__, reason, first, error.__context__)
                      if isinstance(e, BaseException)), None)
    return causes


def network_reason(error):
    """What happened to a request, in words, from its innermost cause."""
    for cause in reversed(error_causes(error)):
        if isinstance(cause, socket.gaierror):
            return 'its name could not be resolved (no network, or no DNS)'
        if isinstance(cause, ConnectionRefusedError):
            return 'connection refused'
        if isinstance(cause, ConnectionResetError):
            return 'the connection was reset'
        if isinstance(cause, (TimeoutError, socket.timeout, requests.Timeout)):
            return 'no answer in time'
        if isinstance(cause, ssl.SSLCertVerificationError):
            return 'its certificate could not be verified (%s)' % (cause.verify_message or 'untrusted')
        if isinstance(cause, ssl.SSLError):
            return 'the secure connection failed (%s)' % (cause.reason or cause.strerror or 'TLS error')
        if isinstance(cause, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
            return 'the answer broke off' if isinstance(cause, requests.exceptions.ChunkedEncodingError) \
                else 'the answer could not be decompressed'
        if isinstance(cause, OSError) and cause.strerror and not isinstance(cause, requests.RequestException):
            return cause.strerror[:1].lower() + cause.strerror[1:]
    text = ' '.join(str(cause) for cause in error_causes(error))
    return next((words for pattern, words in NETWORK_REASONS_BY_TEXT if pattern.search(text)), 'the connection failed')


# What a request's failure says in its text alone, where no cause of a known type is wrapped.
NETWORK_REASONS_BY_TEXT = (
    (re.compile(r'IncompleteRead|Connection broken'), 'the answer broke off'),
    (re.compile(r'NameResolution|Name or service not known|nodename nor servname|getaddrinfo|'
                r'Temporary failure in name resolution'), 'its name could not be resolved (no network, or no DNS)'),
    (re.compile(r'refused'), 'connection refused'),
    (re.compile(r'reset', re.I), 'the connection was reset'),
    (re.compile(r'RemoteDisconnected|without response|aborted'), 'the server closed the connection without an answer'),
)


def bytes_in_broken_read(error):
    """The bytes a read that broke off had received (urllib3's IncompleteRead, nested in
    requests' error), else 0: what came is told as it is."""
    seen, todo = set(), [error]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        partial = getattr(item, 'partial', None)
        if isinstance(partial, int) and not isinstance(partial, bool):
            return partial
        if isinstance(partial, bytes):
            return len(partial)
        if isinstance(item, BaseException):
            todo.extend(a for a in item.args if isinstance(a, BaseException))
            todo.extend(e for e in (item.__cause__, item.__context__) if e is not None)
    return 0


def raise_for_transient_status(response, *args, **kwargs):
    """requests response hook of the API client: a transient verdict is raised with its
    Retry-After (flickrapi would collapse it into a FlickrError and lose the header)."""
    verdict = judge_status(response, response.url.split('?')[0], api=True)
    if isinstance(verdict, (TransientError, QuotaSpent)):
        raise verdict


def wait_for_gate(gate, stop_event):
    """Sleep while the gate is closed, waking at once on Ctrl+C."""
    while True:
        remaining = gate.remaining()
        if remaining <= 0:
            return
        if stop_event.wait(min(remaining, 1.0)):
            raise KeyboardInterrupt


def thread_session(local):
    """This thread's connection-pooled requests session (sessions are not thread-safe)."""
    session = getattr(local, 'session', None)
    if session is None:
        session = local.session = requests.Session()
        session.headers['User-Agent'] = 'flickrmirrorer/%s' % VERSION
    return session


class Transport:
    """The one session layer for Flickr's file servers (originals, renditions, thumbnails):
    a session per thread with our User-Agent, one pause gate (a 429 or 503 on any file
    holds every download, thumbnails included, as Flickr asked), the judge, retries."""

    def __init__(self, policy, reporter, stop_event):
        self.policy = policy
        self.reporter = reporter
        self.stop_event = stop_event
        self.gate = PauseGate()
        self._local = threading.local()
        self.held_back = None   # a FilesHeldBack: no file is asked for until it frees up
        self._lock = threading.Lock()

    def get(self, url, judge, stream=False, timeout=(15, 120)):
        """One request, after any pause: the response (open when streamed) once `judge`
        let it pass, else the verdict raised (a transient one pausing everybody first; a
        long wait asked for, FilesHeldBack, said once and raised for every file until then)."""
        held = self.held_back
        if held is not None and time.monotonic() < held.at:
            raise held
        wait_for_gate(self.gate, self.stop_event)
        try:
            response = thread_session(self._local).get(url, stream=stream, timeout=timeout)
        except NETWORK_ERRORS as e:
            raise network_failure(e, 'request for %s' % url) from None
        try:
            judge(response)
        except TransientError as e:
            response.close()
            if e.pause_all:
                pause_everybody(self.gate, e, self.policy, self.reporter, 'downloading files')
            raise
        except FilesHeldBack as e:
            response.close()
            self.hold_back(e)
            raise
        except BaseException:
            response.close()
            raise
        return response

    def hold_back(self, held):
        with self._lock:
            if self.held_back is not None and self.held_back.at >= held.at:
                return
            said, self.held_back = self.held_back, held
        if said is None:
            self.reporter.info('%s.  No file is asked for until then: the downloads stop here and the rest of '
                               'the run goes on; the next run fetches the files left.' % held)

    def retrying(self, operation, what):
        return with_retries(self.policy, operation, self.reporter, what)


# ---------------------------------------------------------------------------
# Flickr API: one method per Flickr method, paced, retried, errors classified
# ---------------------------------------------------------------------------
GALLERY_PHOTO_EXTRAS = 'owner_name,license,media,url_q,url_n,path_alias'

class FlickrClient:
    """A thin wrapper around flickrapi, safe to share between worker threads.

    Each thread gets its own flickrapi object with its own connection-pooled session."""

    def __init__(self, api_key, api_secret, token, pacer, stats, policy, reporter, timeout=60,
                 page_size=PAGE_SIZE, wait_for_quota=False):
        self.api_key = api_key
        self.wait_for_quota = wait_for_quota
        self.page_size = min(page_size, PAGE_SIZE)   # Flickr's most
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
            session = thread_session(self._local)
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
                self._pause_everybody(e, method)
                raise
            except flickrapi.FlickrError as e:
                error = classify_flickr_error(method, e)
                if isinstance(error, TransientError):
                    self._pause_everybody(error, method)
                raise error from None
            except NETWORK_ERRORS as e:
                raise network_failure(e, method) from None
            except ValueError as e:  # malformed JSON: an HTML error page, a truncated body
                raise TransientError('%s: malformed answer from Flickr (%s)' % (method, first_line(e))) from None
        while True:
            try:
                return with_retries(self.policy, attempt, self.reporter, method)
            except QuotaSpent as spent:
                if not self.wait_for_quota:
                    raise
                self.wait_out(spent)

    def wait_out(self, spent):
        """--wait-for-quota (or a person at the terminal): every call waits until the hour's
        calls free up, said once."""
        if self.pacer.gate.pause(spent.seconds, cap=False) is not None:
            self.reporter.info('%s.  Waiting for it (Ctrl+C stops; a later run goes on from here).' % spent)
        wait_for_gate(self.pacer.gate, self.policy.stop_event)

    def _pause_everybody(self, error, method):
        if error.pause_all:
            pause_everybody(self.pacer.gate, error, self.policy, self.reporter, 'calling ' + method)

    def paged(self, method, container, item, check, on_total=None, **params):
        """Yield every item of a paged list, one page in memory at a time.

        Flickr sometimes answers a page that is not the last with fewer items than
        per_page while `total` stays right: such a page is asked for again (a few times,
        with backoff).  `check` (a ListingCheck) learns the total and the pages that never
        healed, so that the caller can tell a complete listing from an incomplete one."""
        page, per_page = 1, self.page_size
        while True:
            body, items = self._page(method, container, item, page, per_page, params)
            pages = to_int(body.get('pages'), 1)
            total = to_int(body.get('total'), None)
            for attempt in range(SHORT_PAGE_RETRIES):
                if not is_short_page(items, page, pages, per_page, total):
                    break
                self.reporter.detail('%s page %d came back with %d of %d items; asking again'
                                     % (method, page, len(items), per_page))
                self.policy.sleep(min(self.policy.initial_wait * 2 ** attempt, self.policy.max_wait))
                body, items = self._page(method, container, item, page, per_page, params)
                pages, total = to_int(body.get('pages'), 1), to_int(body.get('total'), None)
            else:
                if is_short_page(items, page, pages, per_page, total):
                    check.short_pages += 1
            check.saw_total(total)
            if page == 1 and on_total:
                on_total(total)
            yield from items
            if page >= pages or not items:
                return
            page += 1

    def _page(self, method, container, item, page, per_page, params):
        rsp = self.call(method, page=page, per_page=per_page, **params)
        body = rsp.get(container) or {}
        return body, body.get(item) or []

    # One method per Flickr method we use.
    def test_login(self):
        return self.call('flickr.test.login')['user']

    def person(self, nsid):
        return as_dict(self.call('flickr.people.getInfo', user_id=nsid).get('person'))

    def photostream(self, check, on_total=None):
        return self.paged('flickr.people.getPhotos', 'photos', 'photo', check, on_total=on_total,
                          user_id='me', extras=LISTING_EXTRAS)

    def photo_info(self, photo_id):
        return self.call('flickr.photos.getInfo', photo_id=photo_id)['photo']

    def photo_sizes(self, photo_id):
        return self.call('flickr.photos.getSizes', photo_id=photo_id)['sizes'].get('size', [])

    def photo_comments(self, photo_id):
        return self.call('flickr.photos.comments.getList', photo_id=photo_id)['comments'].get('comment', [])

    def photo_people(self, photo_id):
        """people.getList's `people`: {photo_width, photo_height (the frame of the boxes),
        person: [{nsid, username, realname, x, y, w, h (with a box)}]}."""
        return as_dict(self.call('flickr.photos.people.getList', photo_id=photo_id).get('people'))

    def albums(self, check):
        return self.paged('flickr.photosets.getList', 'photosets', 'photoset', check)

    def album_photo_ids(self, album_id, check):
        """The ids in album order; one that is not a number is no photo of ours (dropped)."""
        return [p['id'] for p in self.paged('flickr.photosets.getPhotos', 'photoset', 'photo', check,
                                             photoset_id=album_id) if valid_id(as_dict(p).get('id'))]

    def collection_tree(self):
        return (self.call('flickr.collections.getTree').get('collections') or {}).get('collection', [])

    def album_comments(self, album_id):
        return as_list(as_dict(self.call('flickr.photosets.comments.getList', photoset_id=album_id)
                               .get('comments')).get('comment'))

    def galleries(self, user_id, check):
        return self.paged('flickr.galleries.getList', 'galleries', 'gallery', check, user_id=user_id)

    def gallery_photos(self, gallery_id, check):
        return self.paged('flickr.galleries.getPhotos', 'photos', 'photo', check, gallery_id=gallery_id,
                          extras=GALLERY_PHOTO_EXTRAS)

    def favorites(self, user_id, check):
        """Your favourites, newest fave first, with the listing's extras (and date_faved)."""
        return self.paged('flickr.favorites.getList', 'photos', 'photo', check, user_id=user_id,
                          extras=LISTING_EXTRAS)

    def groups(self, user_id):
        return as_list(as_dict(self.call('flickr.people.getGroups', user_id=user_id).get('groups')).get('group'))

    def pool_photos(self, group_id, user_id, check):
        return self.paged('flickr.groups.pools.getPhotos', 'photos', 'photo', check, group_id=group_id,
                          user_id=user_id)


# How many times a short listing page is asked for again before it counts as incomplete.
SHORT_PAGE_RETRIES = 4


def is_short_page(items, page, pages, per_page, total):
    """A page before the last with fewer than per_page items (Flickr does that at times)."""
    if page >= pages:
        return False
    return len(items) < per_page and (total is None or len(items) < total)


@dataclass
class ListingCheck:
    """What a paged listing told us about its own completeness.  Flickr pages by offset:
    a photo deleted or added while we read moves the others across page boundaries, so a
    total that changed during the walk means some photo may have been missed."""
    total: int = None       # the total of the last page read (the freshest figure)
    first_total: int = None
    short_pages: int = 0    # pages that stayed short after being asked for again

    def saw_total(self, total):
        if self.first_total is None:
            self.first_total = total
        self.total = total

    def problem(self, seen, what):
        """None for a complete listing, else what was wrong with it, in words."""
        if self.first_total != self.total:
            return 'the %s changed while it was read (%s, then %s %s)' % (
                'photostream' if what == 'photos' else what, self.first_total, self.total, what)
        if self.short_pages or self.total is None or seen != self.total:
            return '%d of %s %s seen' % (seen, self.total, what)
        return None


def classify_flickr_error(method, error):
    """One place decides what a Flickr error answer means: transient, login, not found, failed."""
    code = error.code
    message = '%s: %s' % (method, first_line(error))
    if code in FLICKR_TRANSIENT_CODES or SERVICE_UNAVAILABLE_RE.search(str(error)):
        return TransientError(message, pause_all=True)
    if code in FLICKR_AUTH_CODES:
        return AuthError(AUTH_ERROR_ADVICE.get(code, AUTH_ERROR_ADVICE[98])
                         % {'error': first_line(error), 'program': program_name()})
    if code == FLICKR_NOT_FOUND:
        return NotFoundError(message)
    if code is None:  # flickrapi's "Status code N received": an HTTP error without a retry hint
        return TransientError(message)
    return ItemError(message)


# A photo id names its files: only digits (a hostile or broken answer could send '../x').
PHOTO_ID_RE = re.compile(r'^[0-9]+$')
ALBUM_ID_RE = PHOTO_ID_RE
COLLECTION_ID_RE = re.compile(r'^[0-9]+-[0-9]+$')


def valid_id(value, pattern=PHOTO_ID_RE):
    """An id Flickr sent, when it has the shape of one (ASCII digits); else None."""
    return value if isinstance(value, str) and value.isascii() and pattern.fullmatch(value) else None


def shown_id(value):
    """An id as a message shows it, whatever it holds (quotes and escapes when not digits)."""
    return value if valid_id(value) else json.dumps(value if isinstance(value, (str, int, float)) else repr(value))


# ---------------------------------------------------------------------------
# Login: OAuth 1.0a with read permission, token cached by flickrapi
# ---------------------------------------------------------------------------

CONSOLE_LOGIN_PROMPT = """\
%s needs read access to your Flickr account.

1. Open this address in a web browser (on any computer) and log in to Flickr:
   %s
2. Click "OK, I'll authorize it".
3. Type the code Flickr shows you here and press Enter.
"""


def token_cache_dir(args):
    return os.path.abspath(os.path.expanduser(args.token_dir or '~/.flickr'))


TOKEN_DB_NAME = 'oauth-tokens.sqlite'   # flickrapi's name for its token database


def login(api_key, api_secret, token_dir, reporter, use_browser, relogin=False):
    """Return the stored access token, or run the OAuth flow to get one.  With relogin the old
    token stays stored until a new one replaces it: a failed login loses nothing."""
    try:
        cache = open_token_cache(api_key, token_dir)
        token = None if relogin else cache.token
    except (OSError, sqlite3.Error, flickrapi.FlickrError) as e:  # includes a corrupt token database
        raise FatalError('Cannot use the token cache in %s: %s' % (token_dir, first_line(e)), EXIT_USAGE)
    if token is not None:
        return token
    try:
        token = oauth_flow(api_key, api_secret, reporter, use_browser)
    except KeyboardInterrupt:   # Ctrl+C at the Code: prompt: nothing was started yet
        raise FatalError('interrupted; not logged in, the mirror was not touched.', EXIT_INTERRUPTED) from None
    try:
        cache.token = token
    except (OSError, sqlite3.Error) as e:
        raise FatalError('Cannot store the token in %s: %s' % (token_dir, first_line(e)), EXIT_USAGE)
    finally:
        protect_token_database(token_dir)
    reporter.info('Logged in to Flickr as %s; the token is kept in %s.' % (token.username, token_dir))
    return token


def open_token_cache(api_key, token_dir):
    """flickrapi's token database, made readable by its owner only before a token goes in.
    Only a directory we create is made private: a user's own --token-dir keeps its modes."""
    if not os.path.isdir(token_dir):
        os.makedirs(token_dir, mode=0o700)
        os.chmod(token_dir, 0o700)   # makedirs' mode is filtered by the umask
    database = os.path.join(token_dir, TOKEN_DB_NAME)
    if not os.path.lexists(database):   # born private; an existing one may be read-only
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    protect_token_database(token_dir)
    return flickrapi.tokencache.OAuthTokenCache(api_key, '', path=token_dir)


def protect_token_database(token_dir):
    """The token is a password: only its owner may read the database that holds it (0600;
    one its owner made read-only stays so)."""
    path = os.path.join(token_dir, TOKEN_DB_NAME)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except OSError:
        pass


def oauth_flow(api_key, api_secret, reporter, use_browser):
    """Ask Flickr for a new read-only token, which the user approves in a web browser."""
    flickr = flickrapi.FlickrAPI(api_key, api_secret, format='parsed-json', store_token=False)
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
        raise AuthError('Login failed, cannot reach Flickr: %s' % network_error_text(e, 'the login'))
    token = flickr.token_cache.token
    if token is None:
        raise AuthError('Login failed: Flickr gave no token.')
    return token


def console_login(flickr, reporter):
    try:
        flickr.get_request_token(oauth_callback='oob')
    except flickrapi.FlickrError as e:
        raise AuthError('Login failed: Flickr refused the API key or secret (%s).  Check both: they are '
                        'the "Key" and "Secret" of your app at https://www.flickr.com/services/apps/.'
                        % first_line(e).replace('do_request: ', '')) from None
    reporter.prompt(CONSOLE_LOGIN_PROMPT % (program_name(), flickr.auth_url(perms='read')))
    sys.stderr.write('Code: ')
    sys.stderr.flush()
    verifier = sys.stdin.readline().strip()
    if not verifier:
        raise AuthError('Not logged in: no code was typed.  Run %s by hand once to log in '
                        '(cron jobs reuse the token it stores).' % program_name())
    try:
        flickr.get_access_token(verifier)
    except flickrapi.FlickrError as e:
        raise AuthError('Login failed: Flickr did not accept the code %r (%s): it was mistyped, already '
                        'used, or has expired (a code is good for a few minutes).  Run %s '
                        'again to get a new one.' % (verifier, first_line(e).replace('do_request: ', ''),
                                                     program_name())) from None


def browser_available():
    if os.environ.get('BROWSER'):
        return True
    if sys.platform in ('darwin', 'win32'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


# ---------------------------------------------------------------------------
# Destination: lock, leftover temporary files, safe names, atomic writes
# ---------------------------------------------------------------------------

def describe_file(path):
    sha = hashlib.sha256()
    size = 0
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(DOWNLOAD_CHUNK), b''):
            sha.update(chunk)
            size += len(chunk)
    return {'name': os.path.basename(path), 'size': size, 'sha256': sha.hexdigest()}


def set_mtime(path, timestamp):
    """The file's time, never a link's target's (a link dropped in its place is refused)."""
    if timestamp is None:
        return
    guarded(path)
    try:
        if os.stat(path, follow_symlinks=False).st_mtime != timestamp:
            os.utime(path, (timestamp, timestamp), follow_symlinks=False)
    except (OSError, OverflowError, ValueError):
        pass


def remove_our_dir(path):
    """Remove a directory of ours (symlinks, our metadata, subdirectories of the same kind).
    Anything else in it is kept, and so is the directory then.  A symlink to a directory is
    never followed: what it points to is not ours."""
    if os.path.islink(path):
        return False
    for entry in list(os.scandir(guarded(path))):
        if entry.is_symlink() or entry.name == DIR_METADATA_NAME or entry.name.startswith(TMP_PREFIX):
            try_unlink(entry.path, link=entry.is_symlink())
        elif entry.is_dir(follow_symlinks=False) and COLLECTION_NAME_RE.search(entry.name):
            remove_our_dir(entry.path)
    try:
        remove_dir(path)
        return True
    except OSError:
        return False

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


def file_bytes(path):
    """A file's content; None when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError:
        return None


def file_stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


HTML_DIR = 'html'
THUMBS_DIR = 'thumbs'
THUMBS_PATH = os.path.join(HTML_DIR, THUMBS_DIR)   # relative to dest

XMP_SUFFIX = '.xmp'


def xmp_path_for(photostream_dir, filename):
    return os.path.join(photostream_dir, filename + XMP_SUFFIX)


NOT_ORIGINAL_LIST = 'not-original.txt'

def check_destination(dest, quiet):
    """Refuse a destination that looks like a typo or an unmounted disk before anything is
    asked of Flickr: its parent must exist (missing parents are never made), and an
    unattended (-q) run only updates a mirror that is already there."""
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise FatalError('Destination %s exists and is not a directory.' % dest, EXIT_USAGE)
    parent = os.path.dirname(dest.rstrip(os.sep)) or os.sep
    if os.path.lexists(parent) and not os.path.isdir(parent):
        raise FatalError('Cannot create destination %s: %s is not a folder.' % (dest, parent), EXIT_USAGE)
    if not os.path.isdir(parent):
        raise FatalError('The folder that should hold the destination, %s, does not exist (a typo, or a disk '
                         'not mounted?); nothing was created.' % parent, EXIT_USAGE)
    if quiet and not os.path.isdir(os.path.join(dest, PHOTOSTREAM_DIR)):
        raise FatalError('No mirror at %s: start it with a run without -q (a typo, or a disk not mounted?); '
                         'nothing was created.' % dest, EXIT_USAGE)


# -- the one guard: every path the program creates, replaces, renames, re-times or deletes in
# the destination passes through guarded() (atomic_write, atomic_symlink, make_dirs,
# try_unlink, remove_dir, set_mtime, the Executor): inside the destination,
# reached through no symbolic link, and itself no link unless a link is what is changed.

_guarded_root = None   # the destination (as given, made absolute) once the run has claimed it


def guard_destination(dest):
    """From now on every change must lie inside `dest`.  The destination itself may be a
    link (the user's choice); nothing below it may."""
    global _guarded_root
    _guarded_root = os.path.abspath(dest) if dest is not None else None


def guarded(path, link=False):
    """`path`, when the program may change it: inside the destination and reached through no
    symbolic link (each directory below the destination is looked at, not followed); the
    path itself no link unless `link` (our album links, a link being removed: changing a link
    changes nothing it points to).  Raises LinkInTheWay."""
    root = _guarded_root
    full = os.path.abspath(path)
    if root is None:   # outside a run (the helpers' own tests): the path itself only
        parts, current = [os.path.basename(full)], os.path.dirname(full)
    else:
        prefix = root.rstrip(os.sep) + os.sep
        if not full.startswith(prefix):
            raise LinkInTheWay(path, outside=True)
        parts, current = full[len(prefix):].split(os.sep), root
    last = len(parts) - 1
    for i, part in enumerate(parts):
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            break   # nothing beyond exists yet (what is made there is made by us, as real
            # directories), or a file is in the way (the change itself then fails, said)
        if stat.S_ISLNK(mode) and not (link and i == last):
            raise LinkInTheWay(current)
    return path


def part_stopped(error, stats, reporter):
    """A LinkInTheWay stopped one part of the run (a view, an album, the account files): said
    in one line and counted (exit status 1); the rest of the run goes on."""
    if error.path not in stats.links_in_the_way:   # the HTML pages and their thumbnails: said once
        stats.links_in_the_way.add(error.path)
        reporter.error(str(error))


def make_dirs(path):
    """os.makedirs(path, exist_ok=True), guarded."""
    os.makedirs(guarded(path), exist_ok=True)


def remove_dir(path):
    """os.rmdir, guarded (the directory itself no link)."""
    os.rmdir(guarded(path))


def remove_if_empty(path):
    """A directory the run made and left empty (interrupted before its first file) goes."""
    try:
        remove_dir(path)
    except OSError:
        pass


def prepare_destination(dest):
    """Create the destination (never its parents) if missing; refuse one we cannot use.
    check_destination() has already refused one that is not a directory."""
    try:
        if not os.path.isdir(dest):
            os.mkdir(dest)
    except OSError as e:
        raise FatalError('Cannot create destination %s: %s' % (dest, e.strerror), EXIT_USAGE)
    if not os.access(dest, os.W_OK | os.X_OK):
        raise FatalError('Destination %s is not writable.' % dest, EXIT_USAGE)


def lock_destination(dest):
    """One run at a time per destination.  The lock dies with the process, even on SIGKILL."""
    path = os.path.join(dest, LOCK_NAME)
    try:   # never through a link: its target would get our process id
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LinkInTheWay(path) from None
        raise FatalError('Cannot create lock file %s: %s' % (path, e.strerror), EXIT_USAGE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise FatalError('Another %s is already running on %s; try again when it has '
                         'finished.' % (program_name(), dest), EXIT_BUSY)
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
                    shutil.rmtree(guarded(path), ignore_errors=True)
                else:
                    try_unlink(path)
                removed += 1
        dirs[:] = [d for d in dirs if not d.startswith(TMP_PREFIX)]
    return removed


def safe_name(title, item_id):
    """A file-system-safe, unique directory name: '<title> - <id>', at most 255 bytes.

    No '/', no NUL or control characters, no leading dot (never '.' or '..'); the id
    keeps two albums with the same title apart."""
    clean = ''.join('_' if ch == '/' else ch for ch in valid_text(title) if ch >= ' ' and ch != '\x7f')
    clean = clean.strip().lstrip('.').strip() or 'Untitled'
    suffix = ' - %s' % item_id
    budget = MAX_NAME_BYTES - len(suffix.encode('utf-8'))
    encoded = clean.encode('utf-8')
    if len(encoded) > budget:
        clean = encoded[:budget].decode('utf-8', 'ignore').rstrip()
    return clean + suffix


ALBUM_NAME_RE = re.compile(r' - (\d+)$', re.ASCII)
COLLECTION_NAME_RE = re.compile(r' - (\d+-\d+)$', re.ASCII)


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


def atomic_write(path, write, unchanged=None, dirs=None):
    """Write through `write(file)` to a temporary name in the same directory, fsync, rename:
    a file at its final name is always complete.  Returns what `write` returned.  When
    `unchanged(result)` says the new content is the old one, the old file stays.  `dirs`, a
    SyncBatch, takes the sync and the rename over (the many files of a view)."""
    directory = os.path.dirname(guarded(path))
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            result = write(f)
            if unchanged is not None and unchanged(result):
                try_unlink(tmp)
                return result
            f.flush()
            if dirs is None:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if dirs is None:
            os.replace(tmp, path)
    except BaseException:
        try_unlink(tmp)
        raise
    if dirs is None:
        fsync_dir(directory)
    else:
        dirs.add(tmp, path)
    return result


def linux_syncfs():
    """Linux's syncfs(2), which syncs one whole filesystem; None elsewhere."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):
        return None
    syncfs.argtypes = [ctypes.c_int]
    return syncfs


SYNCFS = linux_syncfs()


def sync_filesystem(directory):
    """Every file's data on the filesystem that holds `directory`, on disk (syncfs)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        if SYNCFS(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), directory)
    finally:
        os.close(fd)


def fsync_path(path):
    """A file's data on disk, by its name (fsync_dir's twin that tells its failure)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SyncBatch:
    """The many derived files of a view (thumbnails, sidecars, pages), written as a batch
    (`with SyncBatch() as dirs: ... dirs=dirs`): each to a temporary name; then, for every
    thousand of them, one sync of their filesystem (Linux's syncfs) instead of an fsync each
    (where syncfs is missing, as on macOS, an fsync each); then each renamed into place, and
    each directory synced once.  A file at its name is complete either way: its data is on
    disk before its rename.  An error or Ctrl+C in the block drops the files not yet
    renamed: the next run makes them again, as nothing records them as made before the
    block ends (make_views remembers after write).  A path is written once per batch; the
    threads of a pool may share one."""

    SIZE = 1000

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = []   # (temporary path, final path): written, not yet synced
        self._dirs = set()   # renamed into, not yet synced
        self.error = None    # a failed sync (a disk's I/O error): the block ends with it

    def __enter__(self):
        return self

    def add(self, tmp, path):
        with self._lock:
            self._pending.append((tmp, path))
            if len(self._pending) >= self.SIZE:
                self._flush()

    def _flush(self):
        pending, self._pending = self._pending, []
        done = 0
        try:
            if SYNCFS is None:
                for tmp, _ in pending:
                    fsync_path(tmp)
            else:
                filesystems = {}
                for directory in {os.path.dirname(path) for _, path in pending}:
                    filesystems.setdefault(os.stat(directory).st_dev, directory)
                for directory in filesystems.values():
                    sync_filesystem(directory)
            for tmp, path in pending:
                os.replace(tmp, path)
                self._dirs.add(os.path.dirname(path))
                done += 1
        except OSError as e:   # raised where it happened (maybe a worker's), and when the block ends
            self.error = e
            raise
        finally:
            for tmp, _ in pending[done:]:
                try_unlink(tmp)
        for directory in sorted(self._dirs):
            fsync_dir(directory)
        self._dirs.clear()

    def __exit__(self, kind, *exc):
        with self._lock:
            if kind is not None:   # nothing more is made complete
                for tmp, _ in self._pending:
                    try_unlink(tmp)
                self._pending = []
            self._flush()
        if kind is None and self.error is not None:
            raise self.error


def atomic_write_bytes(path, data, dirs=None):
    atomic_write(path, lambda f: f.write(data), dirs=dirs)


def json_bytes(data):
    return escape_surrogates(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + '\n').encode('utf-8')


def write_chunks_if_changed(path, chunks, dirs=None):
    """Content too big to hold twice in memory, rewritten only when it changes (keeps mtimes
    and disks quiet): the chunks go to a temporary file, which replaces the old one only
    when their SHA-256 differs."""
    try:
        old = describe_file(guarded(path))['sha256']
    except OSError:
        old = None

    def write(f):
        new = hashlib.sha256()
        for chunk in chunks:
            new.update(chunk)
            f.write(chunk)
        return new.hexdigest()
    return atomic_write(path, write, unchanged=lambda digest: digest == old, dirs=dirs) != old


def read_json(path):
    """The parsed file, or None when it is missing or unreadable (then it is rewritten)."""
    try:
        with open(path, 'rb') as f:
            return json.loads(f.read().decode('utf-8'))
    except (OSError, ValueError):
        return None


def try_unlink(path, link=False):
    """Remove a file of ours (`link`: a link of ours; removing a link removes the link alone)."""
    try:
        os.unlink(guarded(path, link=link))
    except FileNotFoundError:
        pass


def atomic_symlink(target, path):
    """Create or retarget a symlink without a moment where it is missing or wrong."""
    if os.path.islink(guarded(path, link=True)) and os.readlink(path) == target:
        return False
    tmp = os.path.join(os.path.dirname(path), TMP_PREFIX + 'link-%d-%d' % (os.getpid(), threading.get_ident()))
    try_unlink(tmp, link=True)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:   # SIGTERM or Ctrl+C between the two: no temporary link stays behind
        try_unlink(tmp, link=True)
        raise
    return True


# ---------------------------------------------------------------------------
# Actions: the typed changes of the destination that planners yield
# ---------------------------------------------------------------------------

class Action:
    """What every action is: its `path` is what the dry run prints, unless it says more."""
    __slots__ = ()

    def line(self):
        return self.path


@dataclass(frozen=True, slots=True)
class MakeDir(Action):
    path: str
    counts: tuple = None
    verb, did = 'make directory', 'Made directory'


@dataclass(frozen=True, slots=True)
class RenameDir(Action):
    path: str
    new: str
    counts: tuple = None
    verb, did = 'rename', 'Renamed'

    def line(self):
        return '%s -> %s' % (self.path, self.new)


@dataclass(frozen=True, slots=True)
class RemoveDir(Action):
    path: str
    counts: tuple = None
    verb, did = 'remove directory', 'Removed directory'


@dataclass(frozen=True, slots=True)
class Link(Action):
    path: str
    target: str
    counts: tuple = None
    verb, did = 'link', 'Linked'

    def line(self):
        return '%s -> %s' % (self.path, self.target)


@dataclass(frozen=True, slots=True)
class Unlink(Action):
    path: str
    counts: tuple = None
    verb, did = 'unlink', 'Unlinked'


@dataclass(frozen=True, slots=True)
class WriteMetadata(Action):
    path: str
    data: bytes
    counts: tuple = None
    verb, did = 'write', 'Wrote'


@dataclass(frozen=True, slots=True)
class Adopt(Action):
    """A file put into photostream/ by hand becomes the photo's file."""
    source: str
    path: str
    tally: tuple = ()
    counts: tuple = None
    verb, did = 'adopt', 'Adopted'

    def line(self):
        return '%s -> %s' % (self.source, self.path)


@dataclass(frozen=True, slots=True)
class Download(Action):
    """A file from Flickr into the directory `path`: its name is `name_for(answer)`, as only
    the answer tells a file's extension (None where a dry run asks nothing).  `check`, a
    MediaCheck, sees every byte; `tally` names the statistics it adds one to once the file is
    in place (its bytes are counted too); `note` says which file it is."""
    path: str
    choice: object
    name_for: object
    note: str = ''
    check: object = None
    tally: tuple = ()
    replacing: bool = False
    loud: bool = False
    counts: tuple = None
    verb, did = 'download', 'Downloaded'


@dataclass(frozen=True, slots=True)
class Import(Action):
    """An original from Flickr's data export into `path`: `copy(file)` writes it, checking
    every byte, and returns (size, sha256); `member` says where it comes from."""
    path: str
    member: object
    copy: object
    tally: tuple = ()
    counts: tuple = None
    verb, did = 'import', 'Imported'

    def line(self):
        return '%s <- %s' % (self.path, self.member.where)


@dataclass(frozen=True, slots=True)
class WriteFile(Action):
    """A file of the mirror's own (a view's, an account file, a report) with its new content,
    planned only where the content changes.  `batch`, a SyncBatch, syncs it and renames it
    into place with a thousand others (the many files of a view)."""
    path: str
    data: bytes
    batch: object = None
    counts: tuple = None
    verb, did = 'write', 'Wrote'


@dataclass(frozen=True, slots=True)
class WriteChunks(Action):
    """WriteFile for content too big to hold twice in memory (photostream.json, the search
    index): the executor writes the chunks to a temporary file, which replaces the old one
    only when their SHA-256 differs, and tells whether it did."""
    path: str
    chunks: object
    batch: object = None
    counts: tuple = None
    verb, did = 'write', 'Wrote'


@dataclass(frozen=True, slots=True)
class FetchThumbnail(Action):
    """A photo's thumbnail for the HTML view into `path`; a failure leaves the photo without
    a preview until the next run (never a failed run).  `batch`: as WriteFile's."""
    path: str
    url: str
    batch: object = None
    counts: tuple = None
    verb, did = 'fetch thumbnail', 'Fetched thumbnail'

    def line(self):
        return '%s <- %s' % (self.path, self.url)


@dataclass(frozen=True, slots=True)
class SetTime(Action):
    path: str
    when: float
    counts: tuple = None
    verb, did = 'set the time of', 'Set the time of'


@dataclass(frozen=True, slots=True)
class Delete(Action):
    path: str
    reason: str = ''
    counts: tuple = None
    verb, did = 'delete', 'Deleted'


def make_missing_dir(dest, path):
    """[MakeDir(path)] when the directory is not there yet, else []."""
    return [] if os.path.isdir(os.path.join(dest, path)) else [MakeDir(path)]


def rewrite(dest, cls, path, data, **fields):
    """[cls(path, data)] when the file at `path` (relative to `dest`) holds other content, else []
    (a link in its way stops the part of the run that writes it, as the write would)."""
    return [cls(path, data, **fields)] if file_bytes(guarded(os.path.join(dest, path))) != data else []


# What a counted action tells beside itself: (the real run's words, the dry run's).
COUNT_WORDS = {
    'albums_new': ('Created album', 'create album'),
    'albums_updated': ('Updated album', 'update album'),
    'albums_deleted': ('Removing album', 'remove album'),
    'collections_new': ('Created collection', 'create collection'),
    'collections_updated': ('Updated collection', 'update collection'),
    'collections_deleted': ('Removing collection', 'remove collection'),
    'metadata_updated': ('Updated the metadata of', 'update the metadata of'),
}


# ---------------------------------------------------------------------------
# One photo: what the plan, the run and every view know of a photo
# ---------------------------------------------------------------------------
# The plan, the HTML view, the XMP sidecars, the search index and photostream.json read a
# photo through this one class, so that they cannot disagree.  getInfo's answer is used where it
# was read at the photo's current lastupdate, else the listing's.  A field of the wrong type
# (a damaged or hand-edited file) counts as missing: never a traceback.
EXPORT_KEY = 'export'                           # a photo's photo_<id>.json in its .metadata
EXPORT_SOURCE = 'Flickr data export'            # the file record's 'source'
EXPORT_ORIGINAL_SOURCE = 'original address in the data export'   # fetched from its photo_<id>.json


def export_secret(photo_json):
    """The original's secret in a photo_<id>.json's 'original' URL, or None."""
    match = EXPORT_ORIGINAL_URL_RE.search(text_of(as_dict(photo_json).get('original')))
    return match.group(2) if match else None


VIDEO_ORIGINAL = 'Video Original'
# Flickr's "Small 320" size, from the listing (url_n costs no API call).  320 px fills a
# grid cell; 100 of them weigh about 3-4 MB where the originals weigh gigabytes.  For videos
# it is the poster frame.
THUMB_EXTRA = 'url_n'
# flickr.photos.licenses.getInfo, as Flickr answered it on 19 Jun 2025 (the tests hold that
# answer: testdata/flickr-api-samples/flickr.photos.licenses.getInfo.2025.xml).
FLICKR_LICENSES = {
    '0': ('All Rights Reserved',
          'https://www.flickrhelp.com/hc/en-us/articles/10710266545556-Using-Flickr-images-shared-by-other-members'),
    '1': ('CC BY-NC-SA 2.0', 'https://creativecommons.org/licenses/by-nc-sa/2.0/'),
    '2': ('CC BY-NC 2.0', 'https://creativecommons.org/licenses/by-nc/2.0/'),
    '3': ('CC BY-NC-ND 2.0', 'https://creativecommons.org/licenses/by-nc-nd/2.0/'),
    '4': ('CC BY 2.0', 'https://creativecommons.org/licenses/by/2.0/'),
    '5': ('CC BY-SA 2.0', 'https://creativecommons.org/licenses/by-sa/2.0/'),
    '6': ('CC BY-ND 2.0', 'https://creativecommons.org/licenses/by-nd/2.0/'),
    '7': ('No known copyright restrictions', 'https://www.flickr.com/commons/usage/'),
    '8': ('United States Government Work', 'https://www.usa.gov/government-copyright'),
    '9': ('Public Domain Dedication (CC0)', 'https://creativecommons.org/publicdomain/zero/1.0/'),
    '10': ('Public Domain Mark', 'https://creativecommons.org/publicdomain/mark/1.0/'),
    '11': ('CC BY 4.0', 'https://creativecommons.org/licenses/by/4.0/'),
    '12': ('CC BY-SA 4.0', 'https://creativecommons.org/licenses/by-sa/4.0/'),
    '13': ('CC BY-ND 4.0', 'https://creativecommons.org/licenses/by-nd/4.0/'),
    '14': ('CC BY-NC 4.0', 'https://creativecommons.org/licenses/by-nc/4.0/'),
    '15': ('CC BY-NC-SA 4.0', 'https://creativecommons.org/licenses/by-nc-sa/4.0/'),
    '16': ('CC BY-NC-ND 4.0', 'https://creativecommons.org/licenses/by-nc-nd/4.0/'),
}
# The names Flickr gave the same licences before: the data export names a photo's licence,
# and an export made then (or now: its names are undocumented) may use these.
EARLIER_LICENSE_NAMES = {
    '1': 'Attribution-NonCommercial-ShareAlike License', '2': 'Attribution-NonCommercial License',
    '3': 'Attribution-NonCommercial-NoDerivs License', '4': 'Attribution License',
    '5': 'Attribution-ShareAlike License', '6': 'Attribution-NoDerivs License',
    '11': 'Attribution 4.0 International', '12': 'Attribution-ShareAlike 4.0 International',
    '13': 'Attribution-NoDerivs 4.0 International', '14': 'Attribution-NonCommercial 4.0 International',
    '15': 'Attribution-NonCommercial-ShareAlike 4.0 International',
    '16': 'Attribution-NonCommercial-NoDerivs 4.0 International',
}
PUBLIC_DOMAIN_LICENSES = ('7', '8', '9', '10')
# The export names a photo's licence; the model (and the sidecars) know it by its id.
EXPORT_LICENSE_IDS = {name: lid for lid, (name, url) in FLICKR_LICENSES.items()}
EXPORT_LICENSE_IDS.update((name, lid) for lid, name in EARLIER_LICENSE_NAMES.items())


def photo_page_url(record, info=None):
    for url in as_list(as_dict(as_dict(info).get('urls')).get('url')):
        if as_dict(url).get('type') == 'photopage' and text_of(url):
            return text_of(url)
    return 'https://www.flickr.com/photos/%s/%s/' % (record.get('owner') or 'me', record['id'])


def known_datetaken(record):
    """The date taken of a listing record, or '' when Flickr does not know it (some videos
    carry '0000-00-00 00:00:00') or it is no real date."""
    if as_scalar(record.get('datetakenunknown')) == '1':
        return ''
    return calendar_date(record.get('datetaken'))


def taken_timestamp(record):
    """The photo's date taken as a local-time epoch, falling back to the upload date."""
    taken = known_datetaken(record)
    if taken:
        when = datetime.datetime.strptime(taken, '%Y-%m-%d %H:%M:%S')
        try:
            return when.timestamp()   # local time; before 1970 too (negative)
        except (ValueError, OverflowError, OSError):   # before year 2 or so: read as UTC
            return (when - datetime.datetime(1970, 1, 1)).total_seconds()
    upload = to_int(record.get('dateupload'), None)
    return float(upload) if upload else None


def dict_or_none(value):
    return value if isinstance(value, dict) else None


def file_record_or_none(value):
    return value if file_record_fits(value) else None


EXPORT_ORIGINAL_URL_RE = re.compile(r'/(\d+)_([0-9a-f]+)_o\.(\w+)$')


def file_record_fits(record):
    """A file record's fields, where present, of their types.  A record with any of them wrong
    is no record, and its file is fetched again: what it said (the original or not) cannot
    be trusted."""
    return (isinstance(record, dict) and strings_fit(record, ('name', 'sha256', 'label', 'original_url', 'source'))
            and isinstance(record.get('size', 0), int) and isinstance(record.get('original', False), bool))


# What a file's extension may be: a NUL or a control character in Flickr's originalformat
# never reaches a file name.
EXTENSION_RE = re.compile(r'^[a-z0-9]{2,5}$', re.ASCII)


def listed_format(record):
    """The listing's originalformat, lower-cased, when it can be a file's extension; else ''
    (as when Flickr leaves it out)."""
    listed = str(record.get('originalformat') or '').lower()
    return listed if EXTENSION_RE.fullmatch(listed) else ''


def is_video(record):
    return record.get('media') == 'video'


VIDEO_EXTENSIONS = {'video/mp4': 'mp4', 'video/quicktime': 'mov', 'video/x-msvideo': 'avi',
                    'video/mpeg': 'mpg', 'video/x-m4v': 'm4v', 'video/3gpp': '3gp',
                    'video/webm': 'webm', 'video/x-ms-wmv': 'wmv', 'video/x-flv': 'flv'}
VIDEO_FILE_EXTENSIONS = set(VIDEO_EXTENSIONS.values()) | {'mts', 'm2ts', 'mkv', 'ogv', 'qt'}
IMAGE_FILE_EXTENSIONS = {'jpg', 'jpeg', 'png', 'gif', 'webp', 'tif', 'tiff', 'heic', 'heif', 'bmp'}


def dims_of(width, height):
    w, h = to_int(width, 0), to_int(height, 0)
    return (w, h) if w > 0 and h > 0 else None

# What the program reads of a stored getInfo answer and of a comment, checked field by field:
# a field may be absent, never null nor of another type.  A stored answer that does not fit
# is read again from Flickr, as if it were missing.

SCALAR_TYPES = (str, int, float)   # a scalar: a string or a number; JSON's true and false are none
NO_NODE = {}


def strings_fit(node, keys):
    for key in keys:
        if not isinstance(node.get(key, ''), str):
            return False
    return True


def scalars_fit(node, keys):
    for key in keys:
        if type(node.get(key, '')) not in SCALAR_TYPES:
            return False
    return True


def texts_fit(node, keys):
    """getInfo's text nodes: {'_content': str}."""
    for key in keys:
        text = node.get(key, NO_NODE)
        if not (isinstance(text, dict) and isinstance(text.get('_content', ''), str)):
            return False
    return True


def all_fit(items, fits):
    """A list whose every item fits."""
    if not isinstance(items, list):
        return False
    for item in items:
        if not fits(item):
            return False
    return True


def items_fit(node, key, fits):
    """node[key], where present, a list whose every item fits."""
    return all_fit(node.get(key, []), fits)


def tag_fits(tag):
    return isinstance(tag, dict) and strings_fit(tag, ('raw', '_content')) and scalars_fit(tag, ('machine_tag',))


def url_fits(url):
    return isinstance(url, dict) and strings_fit(url, ('type', '_content'))


def node_fits(info, key, fits):
    """info[key], where present, a dict that fits."""
    node = info.get(key, NO_NODE)
    return isinstance(node, dict) and fits(node)


def owner_fits(owner):
    return strings_fit(owner, ('nsid',))


def tags_fit(tags):
    return items_fit(tags, 'tag', tag_fits)


def dates_fit(dates):
    return strings_fit(dates, ('taken',)) and scalars_fit(dates, ('takengranularity', 'takenunknown'))


def location_fits(location):
    return (scalars_fit(location, ('latitude', 'longitude'))
            and texts_fit(location, ('locality', 'county', 'region', 'country')))


def urls_fit(urls):
    return items_fit(urls, 'url', url_fits)


def notes_fit(notes):
    return items_fit(notes, 'note', note_fits)


def info_fits(info):
    """A stored getInfo answer (id, title, description, license, rotation, owner's nsid, tags,
    dates, location, urls, notes)."""
    return (isinstance(info, dict) and strings_fit(info, ('id',)) and texts_fit(info, ('title', 'description'))
            and scalars_fit(info, ('license', 'rotation')) and node_fits(info, 'owner', owner_fits)
            and node_fits(info, 'tags', tags_fit) and node_fits(info, 'dates', dates_fit)
            and node_fits(info, 'location', location_fits) and node_fits(info, 'urls', urls_fit)
            and node_fits(info, 'notes', notes_fit))


def comment_fits(comment):
    return (isinstance(comment, dict) and strings_fit(comment, ('authorname', 'realname', 'author', '_content'))
            and scalars_fit(comment, ('datecreate',)))


def comments_fit(comments):
    return all_fit(comments, comment_fits)


def box_fits(item):
    """A note or a person with its box in Flickr's frame (x, y, w, h: numbers as strings)."""
    return isinstance(item, dict) and scalars_fit(item, ('x', 'y', 'w', 'h'))


def note_fits(note):
    return box_fits(note) and strings_fit(note, ('author', 'authorname', 'authorrealname', '_content'))


def person_fits(person):
    return box_fits(person) and strings_fit(person, ('nsid', 'username', 'realname'))


def people_fit(people):
    """A stored people.getList answer."""
    return (isinstance(people, dict) and scalars_fit(people, ('photo_width', 'photo_height'))
            and items_fit(people, 'person', person_fits))


def has_people(info):
    """Does a getInfo answer say that people are marked in the photo?"""
    return as_scalar(as_dict(as_dict(info).get('people')).get('haspeople')) == '1'


DATE_TIME = re.compile(r'([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})')


def calendar_date(taken):
    """'YYYY-MM-DD HH:MM:SS' when `taken` is one and a real date and time (not year 0,
    month 13, 30 February, hour 25, ...), else ''."""
    m = DATE_TIME.fullmatch(taken) if isinstance(taken, str) else None
    if m is None:
        return ''
    try:   # the constructor, not strptime (5x slower): this runs for every stored photo
        datetime.datetime(*map(int, m.groups()))
    except ValueError:
        return ''
    return taken


# Flickr's date taken granularity: 0 second, 4 month, 6 year, 8 circa (a year).  A date
# is shown (views) and written (XMP) only as precise as Flickr knows it: its length here.
DATE_TAKEN_LENGTH = {'0': 19, '4': 7, '6': 4, '8': 4}
CIRCA = '8'
GRANULARITIES = {g: g for g in DATE_TAKEN_LENGTH}   # one shared string each, whatever the JSON held


def date_at_granularity(taken, granularity):
    """'YYYY-MM-DD HH:MM:SS' in ISO 8601 as precise as Flickr knows it: 'YYYY' (a year, or
    circa), 'YYYY-MM' (a month), else 'YYYY-MM-DDThh:mm:ss'.  The XMP's date and the views'
    <time datetime> (HTML takes a bare year too)."""
    return taken.replace(' ', 'T')[:DATE_TAKEN_LENGTH.get(granularity, 19)]


def date_taken_text(taken, granularity):
    """The date taken as the views show it: '1950', 'circa 1912', '2019-07',
    '2013-10-06 14:06:41'."""
    shown = taken[:DATE_TAKEN_LENGTH.get(granularity, 19)]
    return 'circa ' + shown if granularity == CIRCA and shown else shown


def clean_tag(tag):
    if tag.isprintable() and '  ' not in tag and tag[:1] != ' ' and tag[-1:] != ' ':
        return tag   # what nearly every tag is (a printable text holds no character clean_text drops)
    return ' '.join(clean_text(tag).split())


@dataclass(slots=True)
class Photo:
    """One photo, as the plan, the run and every view know it: read from its .metadata
    (from_metadata), a listing record (from_listing) or its photo_<id>.json in Flickr's data
    export (from_export).

    The run keeps one for every listed photo (kept()), so a photo holds few objects: its tags
    are one string, and what only its own page and sidecar show (licence, place, Flickr page,
    privacy, comments) is derived when asked from the records it was read from, which a kept
    photo lets go.  Records that do not fit (a damaged or hand-edited .metadata) count as
    missing: the photo is then fetched or enriched again, never a traceback."""
    id: str = ''
    media: str = 'photo'           # one of two shared strings, not a copy per photo
    dateupload: str = ''
    taken: str = ''                # 'YYYY-MM-DD HH:MM:SS', '' when unknown or not a date
    granularity: str = '0'         # Flickr's: 0 second, 4 month, 6 year, 8 circa
    title: str = ''                # None, as the other texts: not read yet (texts_unread)
    description: str = ''          # Flickr's HTML
    tag_lines: str = ''            # its tags one a line, as the owner wrote them, machine tags too
    thumb_url: str = None          # Flickr's small size (THUMB_EXTRA), for the HTML view's grids
    filename: str = None           # its media file in photostream/ (the run's own string, shared)
    has_thumb: bool = False        # its thumbnail is in html/thumbs/ (its path comes from the URL)
    preview: str = None            # without a Flickr thumbnail: its own preview's name in html/thumbs/ (Originals)
    from_file: bool = False        # its texts are its .metadata's: the file's stamp stands for them
    # The records it was read from: what the plan compares with the listing, and what a
    # rewrite of its .metadata keeps.
    listing: dict = None           # people.getPhotos' record
    info: dict = None              # photos.getInfo's answer (info_fits)
    comments: list = None          # photos.comments.getList's (comments_fit)
    people: dict = None            # photos.people.getList's, read where getInfo says haspeople (people_fit)
    file: dict = None              # the file record (file_record_fits)
    export: dict = None            # its photo_<id>.json from Flickr's data export, kept as it is
    enriched: str = None           # the lastupdate at which getInfo was read, or None
    originalsecret: str = None     # of the original last fetched (or the export's)
    file_broken: bool = False      # a file record of the wrong shape: fetch the file again

    @classmethod
    def from_metadata(cls, data, texts=True):
        """The photo its .metadata describes; legacy files (the original flickrmirrorer stored
        the listing record itself) give only the original's secret.  None when `data` is no
        .metadata (its header damaged: the photo is fetched again).  texts=False: its title,
        description, tags and date taken are left unread (the plan needs none of them)."""
        if not isinstance(data, dict):
            return None
        if 'flickrmirrorer' not in data:
            return cls(originalsecret=data.get('originalsecret'))
        header = data['flickrmirrorer']
        if not isinstance(header, dict) or not isinstance(header.get('format'), int):
            return None
        listing = dict_or_none(data.get('listing')) or {}
        info = data.get('photo') if info_fits(data.get('photo')) else None
        enriched = header.get('enriched')
        if header.get('format') == 1 and info:   # format 1 always read getInfo with the file
            enriched = listing.get('lastupdate')
        export = dict_or_none(data.get(EXPORT_KEY))
        file = file_record_or_none(data.get('file'))
        photo = cls(listing=listing, info=info, file=file, export=export, enriched=as_scalar(enriched) or None,
                    comments=data.get('comments') if comments_fit(data.get('comments')) else None,
                    people=data.get('people') if people_fit(data.get('people')) else None,
                    originalsecret=listing.get('originalsecret') if listing else export_secret(export),
                    file_broken='file' in data and file is None)
        if photo.export_alone:
            photo.read_export(texts)
        else:
            photo.read_listing(texts)
        return photo

    @classmethod
    def from_listing(cls, record):
        photo = cls(listing=record)
        photo.read_listing(texts=True)
        return photo

    @classmethod
    def from_export(cls, photo_json, file=None):
        """A photo known from Flickr's data export alone (no listing, no getInfo): its
        photo_<id>.json (see the export section) says as much as getInfo does."""
        photo = cls(export=as_dict(photo_json), file=file_record_or_none(file))
        photo.read_export(texts=True)
        return photo

    def read_listing(self, texts):
        listing, info = self.listing or {}, self.fresh_info
        self.id = as_scalar(listing.get('id')) or as_scalar(info.get('id'))
        self.media = 'video' if (listing.get('media') or info.get('media')) == 'video' else 'photo'
        self.dateupload = as_scalar(listing.get('dateupload'))
        self.thumb_url = as_scalar(listing.get(THUMB_EXTRA)) or None
        if not texts:
            self.title = self.description = self.tag_lines = self.taken = None
            return
        source = info or listing
        self.title = clean_text(text_of(source.get('title'))).strip()
        self.description = text_of(source.get('description'))
        if info:
            tags = [t.get('raw') or text_of(t) for t in as_list(as_dict(info.get('tags')).get('tag'))]
            dates = as_dict(info.get('dates'))
            taken, granularity, unknown = dates.get('taken'), dates.get('takengranularity'), dates.get('takenunknown')
        else:
            tags = (as_scalar(listing.get('tags')).split() + as_scalar(listing.get('machine_tags')).split())
            taken, granularity = listing.get('datetaken'), listing.get('datetakengranularity')
            unknown = listing.get('datetakenunknown')
        self.tag_lines = '\n'.join(dict.fromkeys(t for t in map(clean_tag, tags) if t))
        self.taken = '' if as_scalar(unknown) == '1' else calendar_date(taken)
        self.granularity = GRANULARITIES.get(as_scalar(granularity), '0')

    def read_export(self, texts):
        data = self.export
        self.id = as_scalar(data.get('id'))
        self.media = 'video' if (self.file or {}).get('label') == VIDEO_ORIGINAL else 'photo'
        self.dateupload = export_epoch(data.get('date_imported'))
        if not texts:
            self.title = self.description = self.tag_lines = self.taken = None
            return
        self.title = clean_text(text_of(data.get('name'))).strip()
        self.description = text_of(data.get('description'))
        tags = [text_of(as_dict(t).get('tag')) for t in as_list(data.get('tags'))]
        self.tag_lines = '\n'.join(dict.fromkeys(t for t in map(clean_tag, tags) if t))
        self.taken = calendar_date(data.get('date_taken'))

    def kept(self, from_file=False):
        """What the run keeps of it while it runs: no records (for 100,000 photos they
        would be hundreds of megabytes)."""
        return Photo(self.id, self.media, self.dateupload, self.taken, self.granularity, self.title,
                     self.description, self.tag_lines, self.thumb_url, from_file=from_file)

    @property
    def texts_unread(self):
        return self.title is None

    def refresh(self, metadata):
        """Its texts from its .metadata as now written (enriched, or edited on Flickr)."""
        photo = Photo.from_metadata(metadata) or Photo()
        self.taken, self.granularity, self.title = photo.taken, photo.granularity, photo.title
        self.description, self.tag_lines = photo.description, photo.tag_lines
        self.from_file = True

    @property
    def tags(self):
        return self.tag_lines.split('\n') if self.tag_lines else []

    # -- what its own page and sidecar show, from its records

    @property
    def export_alone(self):
        """Known from Flickr's data export alone: no listing, no getInfo."""
        return not self.listing and not self.info and self.export is not None

    @property
    def fresh_info(self):
        """getInfo's answer where it was read at the photo's current lastupdate, else {}: the
        listing is fresher."""
        if self.listing and as_scalar(self.enriched) != as_scalar(self.listing.get('lastupdate')):
            return {}
        return self.info or {}

    @property
    def license(self):
        if self.export_alone:
            return EXPORT_LICENSE_IDS.get(as_scalar(self.export.get('license')), '')
        return as_scalar((self.fresh_info or self.listing or {}).get('license'))

    @property
    def rotation(self):
        """How far Flickr turns it (clockwise degrees): its smaller sizes are turned."""
        source = self.export if self.export_alone else self.fresh_info
        return to_int(as_scalar(source.get('rotation')), 0) % 360

    @property
    def position(self):
        """(latitude, longitude), or (None, None) when it has no place."""
        if self.export_alone:   # integer micro-degrees as strings
            geo = export_geo(self.export.get('geo'))
            try:
                return position_of({'latitude': int(as_scalar(geo.get('latitude'))) / 1e6,
                                    'longitude': int(as_scalar(geo.get('longitude'))) / 1e6})
            except ValueError:
                return None, None
        info = self.fresh_info
        return position_of(as_dict(info.get('location')) if info else self.listing or {})

    @property
    def latitude(self):
        return self.position[0]

    @property
    def longitude(self):
        return self.position[1]

    @property
    def place_names(self):
        location = as_dict(self.fresh_info.get('location')) if not self.export_alone else {}
        return [text_of(location.get(k)) for k in ('locality', 'county', 'region', 'country')
                if text_of(location.get(k))]

    @property
    def place(self):
        """(country, region, locality) as getInfo names them ('' where it names none); () when
        it names no place."""
        if not self.place_names:
            return ()
        location = as_dict(self.fresh_info.get('location'))
        return tuple(clean_text(text_of(location.get(k))).strip() for k in ('country', 'region', 'locality'))

    @property
    def url(self):
        """Its Flickr page."""
        if self.export_alone:
            page = text_of(self.export.get('photopage'))
            if re.match(r'^https://www\.flickr\.com/', page):
                return page
            return photo_page_url({'id': self.id, 'owner': None}) if self.id else ''
        if not self.id:
            return ''
        listing, info = self.listing or {}, self.fresh_info
        owner = as_scalar(listing.get('owner')) or as_scalar(as_dict(info.get('owner')).get('nsid'))
        return photo_page_url({'id': self.id, 'owner': owner}, info)

    @property
    def privacy(self):
        """Who may see it, in the export's words: public, private, friend, family, friend & family."""
        if self.export_alone:
            return as_scalar(self.export.get('privacy'))
        return privacy_of(self.listing or {})

    @property
    def shown_comments(self):
        """[{'author', 'date', 'text'}], as its page shows them."""
        if self.export_alone:
            return [export_comment(as_dict(c)) for c in as_list(self.export.get('comments'))]
        return [listed_comment(c) for c in self.comments or []]

    @property
    def shown_notes(self):
        """[{'author', 'text', 'box': (x, y, w, h) in Flickr's 500-pixel frame, or None}]."""
        if self.export_alone:
            return [{'author': first_text(n, ('user',)), 'text': text_of(n.get('note')), 'box': box_of(n)}
                    for n in map(as_dict, as_list(self.export.get('notes')))]
        return [{'author': first_text(n, ('authorname', 'authorrealname', 'author')), 'text': text_of(n),
                 'box': box_of(n)} for n in as_list(as_dict(self.fresh_info.get('notes')).get('note'))
                if note_fits(n)]

    @property
    def shown_people(self):
        """[{'name', 'box': (x, y, w, h) in 'frame', or None, 'frame': (width, height) or None}]:
        people.getList's, read with the getInfo answer it holds; the export's without boxes."""
        if self.export_alone:
            people = [{'name': first_text(p, ('realname', 'username', 'name', 'user', 'nsid')), 'box': None,
                       'frame': None} for p in map(as_dict, as_list(self.export.get('people')))]
            return [p for p in people if p['name']]
        people = self.people
        if not self.fresh_info or not people_fit(people):
            return []
        frame = box_of({'x': 0, 'y': 0, 'w': people.get('photo_width'), 'h': people.get('photo_height')})
        return [{'name': first_text(p, ('realname', 'username', 'nsid')), 'box': box_of(p),
                 'frame': frame and frame[2:]} for p in as_list(people.get('person'))]


def listed_comment(c):
    when = to_int(c.get('datecreate'), None)
    author = next((a for a in (c.get('authorname'), c.get('realname'), c.get('author'))
                   if isinstance(a, str) and a), '')
    return {'author': author, 'text': text_of(c),
            'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(when)) if when else ''}


def export_comment(c):
    user = re.match(r'^https://www\.flickr\.com/(?:photos|people)/([^/]+)/?$', text_of(c.get('user')))
    when = calendar_date(c.get('date'))
    return {'author': user.group(1) if user else text_of(c.get('user')),
            'text': text_of(c.get('comment')), 'date': when[:16] + ' UTC' if when else ''}


def first_text(node, keys):
    """The first of node's keys that holds a text, stripped ('' when none does)."""
    return next((text_of(node.get(k)).strip() for k in keys if text_of(node.get(k)).strip()), '')


def box_of(item):
    """(x, y, w, h) of a note's or a person's box, numbers (Flickr sends strings); None when
    it has none or one of no size."""
    try:
        x, y, w, h = (float(as_scalar(item.get(k))) for k in ('x', 'y', 'w', 'h'))
    except ValueError:
        return None
    return (x, y, w, h) if w > 0 and h > 0 and math.isfinite(x + y + w + h) else None


def export_geo(geo):
    """A photo_<id>.json's place: an object (exports of 2018) or a list of one object (those
    of today); {} when none."""
    if isinstance(geo, list):
        geo = geo[0] if geo else {}
    return as_dict(geo)


def privacy_of(record):
    """Who may see a photo, in the export's words, from the listing's ispublic / isfriend /
    isfamily ('' when it does not say)."""
    flags = [as_scalar(record.get(k)) for k in ('ispublic', 'isfriend', 'isfamily')]
    if not all(f in ('0', '1') for f in flags):
        return ''
    public, friend, family = (f == '1' for f in flags)
    if public:
        return 'public'
    return {(True, True): 'friend & family', (True, False): 'friend', (False, True): 'family'}.get(
        (friend, family), 'private')


def export_taken(photo_json):
    """A photo's time from its photo_<id>.json (taken, else imported), as taken_timestamp gives it."""
    return taken_timestamp({'datetaken': photo_json.get('date_taken'),
                            'dateupload': export_epoch(photo_json.get('date_imported'))})


def export_epoch(when):
    """The export's 'YYYY-MM-DD HH:MM:SS' (UTC) as epoch seconds, a string as the listing's
    dateupload is; '' when it is no date."""
    when = calendar_date(when)
    if not when:
        return ''
    return str(int((datetime.datetime.strptime(when, '%Y-%m-%d %H:%M:%S')
                    - datetime.datetime(1970, 1, 1)).total_seconds()))


def position_of(where):
    """(latitude, longitude) when the photo has a place; Flickr lists 0, 0 when it has none."""
    try:
        lat, lon = float(as_scalar(where.get('latitude'))), float(as_scalar(where.get('longitude')))
    except ValueError:
        return None, None
    if lat == 0 and lon == 0 or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


# ---------------------------------------------------------------------------
# Local state: what the destination already holds
# ---------------------------------------------------------------------------

PHOTO_FILE_RE = re.compile(r'^(\d+)\.[^./]+$', re.ASCII)
# A video's original that the user downloaded by hand from its Flickr page and put into
# photostream/: '<id>.original.<ext>' (the name our messages and README give), or the
# name Flickr's own download gives it, '<id>_<originalsecret>_o.<ext>'.
HAND_ORIGINAL_RE = re.compile(r'^(\d+)(?:\.original|_[0-9a-f]+_o)\.([A-Za-z0-9]{2,5})$', re.ASCII)
HAND_ORIGINAL_NAME = '<id>.original.<ext>'


@dataclass
class LocalPhotos:
    files: dict               # photo id -> media file name; the listing takes its photos out
    orphaned_metadata: dict   # photo id -> its .metadata that has lost its media file (on request)
    hand_originals: dict      # photo id -> a video original the user put there by hand

    def __post_init__(self):
        self.count = len(self.files)   # media files found, taken or not

    def take(self, photo_id):
        """The file of a listed photo, no longer kept here: after the listing, `files` holds
        only what Flickr did not list, and a big mirror's scan is not held twice."""
        return self.files.pop(photo_id, None)

    def unlisted(self):
        """photo id -> file name of what the listing did not take (compacted: a dict keeps
        its size after pops)."""
        self.files = dict(self.files)
        return self.files


def scan_photostream(photostream_dir, find_orphans=False):
    """What photostream/ holds, from one scandir and no file reads.  Orphans are looked
    for only on request (--verify reports them, --delete-unknown removes them): they cost
    memory on a big mirror."""
    files = {}
    metadata_names = {}
    hand_originals = {}
    try:
        entries = os.scandir(photostream_dir)
    except FileNotFoundError:
        return LocalPhotos({}, {}, {})
    with entries:
        for entry in entries:
            name = entry.name
            is_metadata = name.endswith(METADATA_SUFFIX)
            match = PHOTO_FILE_RE.match(name[:-len(METADATA_SUFFIX)] if is_metadata else name)
            if not match:
                hand = HAND_ORIGINAL_RE.match(name)
                if hand and not entry.is_dir(follow_symlinks=False):   # a link too: refused, named
                    hand_originals[hand.group(1)] = name
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            if is_metadata:
                if find_orphans:
                    metadata_names[match.group(1)] = name
            else:
                files[match.group(1)] = name
    return LocalPhotos(files, {pid: name for pid, name in metadata_names.items() if pid not in files},
                       hand_originals)


def metadata_path_for(photostream_dir, filename):
    return os.path.join(photostream_dir, filename + METADATA_SUFFIX)


# ---------------------------------------------------------------------------
# Plan: what each listed photo needs
# ---------------------------------------------------------------------------

@dataclass
class PhotoTask:
    record: dict                 # the listing record (people.getPhotos with extras)
    filename: str = None         # the current local media file, if any
    stored: Photo = None         # its .metadata as read (texts unread)
    need_file: bool = False      # download it (new, replaced on Flickr, or damaged)
    need_enrich: bool = False    # photos.getInfo / comments, in the enrichment stage
    try_original: bool = False   # kept as a rendition: ask once more for the original
    hand_original: str = None    # an original the user put into photostream/ by hand
    verify: bool = False
    summary: Photo = None        # what the run keeps of it (Photo.kept), refreshed from the metadata written
    repair: bool = False         # --verify found its file damaged or missing

    @property
    def photo_id(self):
        return self.record['id']

    @property
    def files_stage(self):
        """Anything to do before enrichment: a download, a probe, or metadata to rewrite."""
        return (self.need_file or self.try_original or self.hand_original or self.verify
                or self.stored is None or self.stored.listing != self.record)


def strip_volatile(record):
    return {k: v for k, v in record.items() if k not in VOLATILE_KEYS}


def enrichment_calls(listing, stored):
    """The API calls a photo's enrichment will make: getInfo when never read or older than
    the photo's lastupdate; comments when their count changed (a comment does not change
    lastupdate) and is not zero; people where getInfo says haspeople (read with a new
    getInfo answer, or never read)."""
    info = (stored is None or stored.info is None
            or str(stored.enriched) != str(listing.get('lastupdate')))
    count = to_int(listing.get('count_comments'))
    stored_count = len(stored.comments) if stored and stored.comments else 0
    return int(info) + int(count != stored_count and count > 0) + int(not info and people_unread(stored))


def people_unread(stored):
    """getInfo says people are in the photo, and people.getList was not read with it (a
    person added moves lastupdate: getInfo and then the people are read again)."""
    return has_people(stored.info) and stored.people is None


def needs_enrichment(listing, stored):
    if enrichment_calls(listing, stored):
        return True
    stored_count = len(stored.comments) if stored.comments else 0
    return to_int(listing.get('count_comments')) != stored_count   # all comments deleted


def plan_photo(record, filename, stored, hand_original=None, misfit=None):
    """Decide what a listed photo needs; None when the mirror already holds it as it is.
    misfit(listing, filename, file record): why a file the export put there before any
    listing is not the original Flickr lists (None when it is: adopted, not downloaded)."""
    listing = strip_volatile(record)
    task = PhotoTask(record=listing, filename=filename, stored=stored)
    secret = listing.get('originalsecret')
    if filename is None or stored is None or stored.file_broken:
        task.need_file = True
    elif stored.originalsecret and secret and stored.originalsecret != secret:
        task.need_file = True   # the photo was replaced on Flickr
    elif from_export_alone(stored) and misfit is not None and misfit(listing, filename, stored.file):
        task.need_file = True   # the export's file is not the original Flickr lists
    kept_file = (stored.file or {}) if stored else {}
    if hand_original and (filename is None or kept_file.get('original') is False):
        task.hand_original = hand_original
        task.need_file = False
    elif not task.need_file and kept_file.get('original') is False and kept_file.get('original_url'):
        task.try_original = True
    task.need_enrich = task.need_file or needs_enrichment(listing, stored)
    if not (task.files_stage or task.need_enrich):
        return None
    return task


def from_export_alone(stored):
    """Was the photo mirrored from the data export alone (its file the export's original,
    never listed by the API)?"""
    record = stored.file or {}
    return (not stored.listing and stored.export is not None and record.get('original') is True
            and record.get('source') in (EXPORT_SOURCE, EXPORT_ORIGINAL_SOURCE))


def wanted_media(record, args):
    media = record.get('media', 'photo')
    return not (media == 'video' and args.ignore_videos or media != 'video' and args.ignore_photos)


# ---------------------------------------------------------------------------
# File checks: what a file holds (magic bytes, image sizes, a medium's end)
# ---------------------------------------------------------------------------

def sniff_image(head):
    """The image format of a file's first bytes ('jpg', 'png', ...), or None."""
    if head.startswith(b'\xff\xd8\xff'):
        return 'jpg'
    if head.startswith(b'\x89PNG\r\n\x1a\n'):
        return 'png'
    if head[:6] in (b'GIF87a', b'GIF89a'):
        return 'gif'
    if head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        return 'webp'
    if head[:4] in (b'II*\x00', b'MM\x00*'):
        return 'tif'
    if head[4:8] == b'ftyp' and head[8:12] in (b'heic', b'heix', b'mif1', b'msf1', b'heif'):
        return 'heic'
    if head[:2] == b'BM':
        return 'bmp'
    return None


def is_video_container(head):
    """Do a file's first bytes open a video container (ISO BMFF / QuickTime, AVI, Matroska /
    WebM, MPEG, FLV, ASF)?"""
    return (head[4:8] in (b'ftyp', b'moov', b'mdat', b'wide', b'free', b'skip') and sniff_image(head) != 'heic'
            or head[:4] == b'RIFF' and head[8:12] == b'AVI '
            or head[:4] == b'\x1a\x45\xdf\xa3' or head[:4] in (b'\x00\x00\x01\xba', b'\x00\x00\x01\xb3')
            or head[:3] == b'FLV' or head[:8] == b'\x30\x26\xb2\x75\x8e\x66\xcf\x11'
            or len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)


# -- image sizes

def image_size(path):
    """(width, height) as displayed, from the file header; None if unknown.

    Only a few hundred bytes are read (JPEG segments are skipped by seeking), so this
    stays cheap for 100,000 photos."""
    try:
        with open(path, 'rb') as f:
            return image_size_of(f)
    except OSError:
        return None


def image_size_of(f):
    """image_size() of an open binary file (or a download's first bytes in a BytesIO)."""
    try:
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


def _jpeg_header(f):
    """(width, height as stored, EXIF orientation or None) from a JPEG after its first two
    bytes; None when no frame header comes."""
    orientation = None
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
            return w, h, orientation
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


def image_orientation(path):
    """A JPEG's own EXIF orientation (1-8), or None when it has none (or is no JPEG)."""
    try:
        with open(path, 'rb') as f:
            if f.read(2) != b'\xff\xd8':
                return None
            header = _jpeg_header(f)
    except (OSError, struct.error):
        return None
    return header[2] if header else None


def _jpeg_size(f):
    header = _jpeg_header(f)
    if header is None:
        return None
    w, h, orientation = header
    # EXIF orientations 5-8 are displayed rotated by 90 degrees.
    return (h, w) if (orientation or 1) >= 5 else (w, h)


SAME_FORMAT = {'jpeg': 'jpg', 'tiff': 'tif', 'heif': 'heic'}
MAX_VIDEO_BYTES = 1 << 30
# What Flickr accepts (its upload limits): a bigger file is no original of Flickr's.
MAX_PHOTO_BYTES = 200 << 20


class MediaRefused(Exception):
    """A media file that is not an original Flickr could have stored (said with why)."""


class MediaCheck:
    """Fed a media file as it is copied, it refuses (MediaRefused) what is larger than
    Flickr accepts, and at the end what does not decode to its end: a JPEG without its end
    marker, a PNG without IEND, a GIF without its trailer, an MP4 / QuickTime file whose
    boxes do not add up to its size (truncated, or padded with something else)."""

    TAIL = 1 << 16   # a JPEG may carry a few bytes after its end marker

    def __init__(self, ext, video):
        self.ext = SAME_FORMAT.get(ext, ext)
        self.video = video
        self.limit = MAX_VIDEO_BYTES if video else MAX_PHOTO_BYTES
        self.size = 0
        self.tail = b''
        self.head = b''       # the first 8 bytes: is it ISO BMFF (MP4, QuickTime)?
        self.boxes = None     # ISO BMFF: the offset of the next top-level box (None: to the end)
        self.carry = b''

    def declared(self, size):
        if size > self.limit:
            raise MediaRefused('%s, more than Flickr accepts for a %s (%s)' % (
                human_bytes(size), 'video' if self.video else 'photo', human_bytes(self.limit)))

    def feed(self, chunk):
        if len(self.head) < 8:
            before, self.head = self.head, (self.head + chunk)[:8]
            if self.video and self.head[4:8] in (b'ftyp', b'moov', b'mdat', b'wide', b'free', b'skip'):
                self.boxes, self.carry = 0, before   # walked from the first byte
        start = self.size
        self.size += len(chunk)
        self.declared(self.size)
        self.tail = (self.tail + chunk)[-self.TAIL:]
        if self.boxes is not None:
            self._walk_boxes(chunk, start)

    def _walk_boxes(self, chunk, start):
        data = self.carry + chunk
        base = start - len(self.carry)
        while self.boxes is not None:
            at = self.boxes - base
            if at + 8 > len(data):
                break
            size = int.from_bytes(data[at:at + 4], 'big')
            if not re.match(rb'^[ -~]{4}$', data[at + 4:at + 8]):
                raise MediaRefused('a video whose boxes are damaged (at byte %d)' % self.boxes)
            if size == 1:
                if at + 16 > len(data):
                    break
                size = int.from_bytes(data[at + 8:at + 16], 'big')
            if size == 0:
                self.boxes = None   # the last box runs to the end of the file
                break
            if size < 8:
                raise MediaRefused('a video whose boxes are damaged (at byte %d)' % self.boxes)
            self.boxes += size
        at = self.boxes - base if self.boxes is not None else len(data)
        self.carry = data[at:] if 0 <= at < len(data) else b''

    def finish(self):
        tail = self.tail
        end = tail.rfind(b'\xff\xd9')
        # (some cameras write a trailer after the end marker; zeros are no trailer)
        if self.ext == 'jpg' and (end < 0 or not tail[end + 2:].strip(b'\x00') and len(tail) > end + 2):
            raise MediaRefused('a JPEG without its end marker (truncated, padded, or not an image)')
        if self.ext == 'png' and not tail.endswith(b'IEND\xaeB`\x82'):
            raise MediaRefused('a PNG without its IEND end (truncated, or not an image)')
        if self.ext == 'gif' and not tail.endswith(b';'):
            raise MediaRefused('a GIF without its trailer (truncated, or not an image)')
        if self.boxes is not None and self.boxes != self.size:
            raise MediaRefused('a video whose boxes %s (truncated, or padded)' % (
                'run past its end' if self.boxes > self.size else 'end before its end'))


HEAD_BYTES = 1 << 16   # kept in memory while downloading, to read an image's dimensions


def export_misfit(listing, ext, head):
    """Why a member does not fit what Flickr says of its photo (None when it fits): a video
    must be a video container; a photo's format must agree with originalformat, and its
    header's dimensions with o_width / o_height where given."""
    if is_video(listing):
        if ext not in VIDEO_FILE_EXTENSIONS or not is_video_container(head):
            return 'not a video file (a .%s file%s)' % (
                ext, '' if is_video_container(head) else ' without a video header')
        return None
    said = listed_format(listing)
    said = SAME_FORMAT.get(said, said)
    ext = SAME_FORMAT.get(ext, ext)
    sniffed = sniff_image(head)
    if ext not in IMAGE_FILE_EXTENSIONS:
        return 'not an image (a .%s file)' % ext
    if said and ext != said:
        return 'a .%s file where Flickr says the original is %s' % (ext, said)
    if sniffed != ext and (sniffed or ext in ('jpg', 'png', 'gif')):
        return 'its content is %s, not %s' % (sniffed or 'no image Flickr stores', ext)
    dims = dims_of(listing.get('o_width') or listing.get('width_o'), listing.get('o_height') or listing.get('height_o'))
    size = image_size_of(io.BytesIO(head))
    if dims and size and sorted(size) != sorted(dims):
        return '%dx%d where Flickr says the original is %dx%d' % (tuple(size) + dims)
    return None


def held_original(photostream_dir, name, record):
    """Does the mirror hold the verified original: recorded as the original and still hashing
    to what was recorded (a damaged file is less than the original)?"""
    if not record or record.get('original') is not True or record.get('name') != name:
        return False
    path = os.path.join(photostream_dir, name)
    try:
        if os.stat(path).st_size != record.get('size'):
            return False
        return describe_file(path)['sha256'] == record.get('sha256')
    except OSError:
        return False


def export_file_misfit(photostream_dir, listing, name, record):
    """A file the export put there, before any listing: why it is not the original Flickr
    lists now (its size not the one recorded, its format, a video's container, its
    dimensions), or None when it is."""
    ext = os.path.splitext(name)[1].lstrip('.').lower()
    try:
        with open(os.path.join(photostream_dir, name), 'rb') as f:
            if os.fstat(f.fileno()).st_size != record.get('size'):
                return 'its size is not the one recorded when it was imported'
            head = f.read(HEAD_BYTES)
    except OSError as e:
        return 'cannot be read (%s)' % (e.strerror or e)
    return export_misfit(listing, ext, head)


# ---------------------------------------------------------------------------
# Fetch files: what to fetch for a photo or a video, and fetching it
# ---------------------------------------------------------------------------
# Flickr gives API clients every photo original, but often not a video's: its getSizes
# lists "Video Original" to the owner, yet the URL answers 404 or a sign-in page.  The
# best rendition it does give is then kept, and the original asked for on later runs.

ORIGINAL = 'Original'
# The one table of what to fetch for a video: its renditions, best first, each with the
# height it stands for when getSizes leaves width and height empty (as it does for the
# stream labels '1080p', '700', 'iphone_wifi', ...), the order breaking ties, and its play
# address's name (https://www.flickr.com/photos/<owner>/<id>/play/<variant>/<secret>/; the
# original's is play/orig/<originalsecret>/).  'Site MP4' and 'Mobile MP4' have a fixed
# width (640 and 480): their height follows the video's shape.  'Video Player' is the
# Flash player, never a file.
VIDEO_RENDITIONS = {'1080p': (1080, '1080p'), 'HD MP4': (720, 'hd'), '720p': (720, '720p'),
                    'Site MP4': (360, 'site'), '360p': (360, '360p'), '288p': (288, '288p'),
                    '700': (280, '700'), 'Mobile MP4': (270, 'mobile'), 'iphone_wifi': (240, 'iphone_wifi')}
RENDITION_WIDTHS = {'Site MP4': 640, 'Mobile MP4': 480}
NOT_A_FILE = ('Video Player',)

IMAGE_EXTENSIONS = {'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif',
                    'image/webp': 'webp', 'image/heic': 'heic', 'image/tiff': 'tif'}
# Where Flickr sends a request for an image it will not serve (a small grey GIF).
PLACEHOLDER_RE = re.compile(r'/images/|photo_unavailable', re.I)
# Where Flickr sends a program that asks for a video original it keeps for browsers.
SIGN_IN_RE = re.compile(r'sign-?in|login|identity\.flickr', re.I)


@dataclass
class Choice:
    """One file Flickr offers for a photo or video."""
    label: str
    url: str
    kind: str                  # 'image' or 'video'
    dims: tuple = None         # (width, height) where Flickr says
    original: bool = True
    guessed: bool = False      # an address built from the listing: a 404 says "not offered"
    cdn_bursts: bool = True    # a 403 on this original may be a passing burst: retried patiently


def listing_choices(record):
    """What to fetch, best first, from the listing alone (no API call): a photo's url_o; a
    video's play addresses, the original then its renditions.  None when the listing lacks
    what is needed (getSizes then)."""
    if not is_video(record):
        if record.get('url_o'):
            return [Choice(ORIGINAL, record['url_o'], 'image',
                           dims_of(record.get('o_width') or record.get('width_o'),
                                   record.get('o_height') or record.get('height_o')))]
        return None
    owner = record.get('pathalias') or record.get('owner')
    dims = dims_of(record.get('o_width') or record.get('width_o'), record.get('o_height') or record.get('height_o'))
    if not (owner and record.get('secret') and record.get('originalsecret') and dims):
        return None
    play = '%s/photos/%s/%s/play/' % (WEB_BASE, quote(valid_text(str(owner)), safe='@'), record['id'])
    choices = [Choice(VIDEO_ORIGINAL, play + 'orig/%s/' % record['originalsecret'], 'video', dims)]
    labels = sorted(VIDEO_RENDITIONS, key=lambda label: rendition_rank(
        {'label': label, 'height': RENDITION_WIDTHS[label] * dims[1] // dims[0] if label in RENDITION_WIDTHS else 0}),
        reverse=True)
    choices += [Choice(label, play + '%s/%s/' % (VIDEO_RENDITIONS[label][1], record['secret']), 'video',
                       original=False, guessed=True) for label in labels]
    return choices


def choices_from_sizes(record, sizes):
    """The files to try, best first: the original, then the best other version (for a video
    the tallest rendition; for a photo without an original the largest size)."""
    sizes = [s for s in sizes if isinstance(s, dict) and s.get('source') and s.get('label') not in NOT_A_FILE]
    result = []
    if is_video(record):
        videos = [s for s in sizes if s.get('media') == 'video']
        for s in videos:
            if s['label'] == VIDEO_ORIGINAL:
                result.append(Choice(VIDEO_ORIGINAL, s['source'], 'video', dims_of(s.get('width'), s.get('height'))))
        renditions = [s for s in videos if s['label'] != VIDEO_ORIGINAL]
        if renditions:
            best = max(renditions, key=rendition_rank)
            result.append(Choice(best['label'], best['source'], 'video',
                                 dims_of(best.get('width'), best.get('height')), original=False))
        return result
    photos = [s for s in sizes if s.get('media', 'photo') == 'photo']
    for s in photos:
        if s['label'] == ORIGINAL:
            return [Choice(ORIGINAL, s['source'], 'image', dims_of(s.get('width'), s.get('height')))]
    if photos:
        best = max(photos, key=lambda s: to_int(s.get('width')) * to_int(s.get('height')))
        result.append(Choice(best['label'], best['source'], 'image',
                             dims_of(best.get('width'), best.get('height')), original=False))
    return result


def rendition_rank(size):
    """Taller is better; a rendition without dimensions counts as its label's usual height,
    and among equals the table's order decides."""
    label = size.get('label')
    labels = list(VIDEO_RENDITIONS)
    order = len(labels) - labels.index(label) if label in VIDEO_RENDITIONS else 0
    height = to_int(size.get('height'), 0) or VIDEO_RENDITIONS.get(label, (0,))[0]
    return (height, order)


def judge_file_response(response, choice, url):
    """What a file answer means: judge_status() for its status, then what only a file can
    be: a sign-in page for a refused video original, a placeholder, an HTML error page or
    the wrong type.  Raises the verdict; returns quietly when it may be the file announced."""
    verdict = judge_status(response, url, refusable=choice.kind == 'video' and (choice.original or choice.guessed),
                           cdn_original=choice.kind == 'image' and choice.original and choice.cdn_bursts)
    if verdict is not None:
        raise verdict
    ctype = response.headers.get('Content-Type', '').split(';')[0].strip().lower()
    # Flickr refuses with a 404, or by redirecting to its sign-in page; any other HTML page
    # is an error page like any other (transient, below).
    if choice.kind == 'video' and choice.original and ctype == 'text/html' and response.history \
            and SIGN_IN_RE.search(response.url):
        raise OriginalRefused('Flickr refused the original of %s (HTTP 200, a sign-in page)' % url)
    if response.history and PLACEHOLDER_RE.search(requests.utils.urlparse(response.url).path):
        raise TransientError('%s was redirected to a placeholder image' % url)
    if ctype == 'text/html':
        # a proxy's or Flickr's error page with status 200: never keep it as a photo
        raise TransientError('%s answered with an HTML page instead of the file' % url)
    if ctype and ctype != 'application/octet-stream' and not ctype.startswith(choice.kind + '/'):
        raise TransientError('%s answered with %s instead of a%s %s' % (
            url, ctype, 'n' if choice.kind == 'image' else '', choice.kind))


def check_image_head(head, choice, url):
    """Where Flickr told us the original's dimensions, the image header must agree (a
    placeholder served in its place would not)."""
    if choice.kind != 'image' or not choice.dims:
        return
    size = image_size_of(io.BytesIO(head))
    if size and sorted(size) != sorted(choice.dims):
        raise TransientError('%s is %dx%d, not the %dx%d announced: not the original'
                             % ((url,) + tuple(size) + tuple(choice.dims)))


def run_bounded(jobs, work, finish, stop_event=None):
    """Run `work` (an iterable of (key, function, *args), produced as the pool drains) on
    `jobs` threads with at most twice that many waiting, handing each (key, future) to
    `finish` as it completes; a None in `work` waits for all before it.  On any error or
    Ctrl+C the rest is cancelled, and `stop_event` set to wake the waiting workers."""
    def finish_done(pending, return_when):
        done, _ = concurrent.futures.wait(list(pending), return_when=return_when)
        for future in done:
            finish(pending.pop(future), future)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {}
        try:
            for item in work:
                if item is None:
                    finish_done(pending, concurrent.futures.ALL_COMPLETED)
                    continue
                key, function, *args = item
                while len(pending) >= 2 * jobs:
                    finish_done(pending, concurrent.futures.FIRST_COMPLETED)
                pending[pool.submit(function, *args)] = key
            finish_done(pending, concurrent.futures.ALL_COMPLETED)
        except BaseException:
            if stop_event is not None:
                stop_event.set()
            for future in pending:
                future.cancel()
            raise


class Downloader:
    """Streams one file to disk in chunks, through the transport: temporary name, checks,
    hash, fsync, rename."""

    def __init__(self, transport):
        self.transport = transport
        self.stop_event = transport.stop_event

    def fetch(self, choice, directory, name_for, check=None):
        """Download `choice` into `directory` under the name `name_for(response)` returns.
        Returns (name, size, sha256).  `check`: a MediaCheck the body must pass."""
        return self.transport.retrying(lambda: self._fetch_once(choice, directory, name_for, check), choice.url)

    def probe(self, choice, name_for):
        """A dry run's download: (the name, the size announced).  Only a video is asked for
        (refused or not, offered or not, only its answer tells); its body is not read."""
        if choice.kind != 'video':
            return name_for(None), 0
        return self.transport.retrying(lambda: self._probe_once(choice, name_for), choice.url)

    def _probe_once(self, choice, name_for):
        with self.transport.get(choice.url, lambda r: judge_file_response(r, choice, choice.url),
                                stream=True) as response:
            return name_for(response), to_int(response.headers.get('Content-Length'), 0) or 0

    def _fetch_once(self, choice, directory, name_for, check=None):
        url = choice.url
        with self.transport.get(url, lambda r: judge_file_response(r, choice, url), stream=True) as response:
            name = name_for(response)
            expected = to_int(response.headers.get('Content-Length'), None)
            path = os.path.join(directory, name)
            size, digest = atomic_write(path, lambda f: self._copy_body(
                response, f, expected, choice, check and MediaCheck(check.ext, check.video)))
        return name, size, digest

    def _copy_body(self, response, f, expected, choice, check=None):
        """Copy the body in chunks, hashing it; a short or empty body, or an image that is not
        the one announced, is an error, not a file."""
        url = choice.url
        sha = hashlib.sha256()
        size = 0
        head = b''
        try:
            for chunk in response.iter_content(DOWNLOAD_CHUNK):
                if self.stop_event.is_set():
                    raise KeyboardInterrupt
                if len(head) < HEAD_BYTES:
                    head += chunk[:HEAD_BYTES - len(head)]
                if check is not None:
                    check.feed(chunk)
                f.write(chunk)
                sha.update(chunk)
                size += len(chunk)
        except NETWORK_ERRORS as e:
            received = size + bytes_in_broken_read(e)
            raise TransientError('download of %s failed%s: %s' % (
                url, ' after %s of %s' % (human_bytes(received), human_bytes(expected)) if received and expected
                else ' (%s announced)' % human_bytes(expected) if expected else '', network_reason(e))) from None
        if expected is not None and size != expected:
            raise TransientError('download of %s is truncated: %d of %d bytes' % (url, size, expected))
        if size == 0:
            raise TransientError('download of %s is empty' % url)
        check_image_head(head, choice, url)
        if check is not None:
            if sniff_image(head) != check.ext:
                raise MediaRefused('%s is %s, not the %s its address names' % (
                    url, sniff_image(head) or 'no image Flickr stores', check.ext))
            check.finish()
        return size, sha.hexdigest()


def extension_for(record, choice, response):
    """The file's extension: the photo's originalformat, else the final URL's, else the
    Content-Type's (Flickr leaves originalformat out at times, and always for videos)."""
    listed = listed_format(record)
    if choice.original and not is_video(record) and listed:
        return listed
    path = requests.utils.urlparse(response.url if response is not None else choice.url).path
    ext = os.path.splitext(path)[1].lstrip('.').lower()
    if EXTENSION_RE.fullmatch(ext):
        return 'jpg' if ext == 'jpeg' else ext
    content_type = response.headers.get('Content-Type', '').split(';')[0].strip().lower() if response is not None else ''

    table = VIDEO_EXTENSIONS if choice.kind == 'video' else IMAGE_EXTENSIONS
    return table.get(content_type, 'mp4' if choice.kind == 'video' else 'jpg')


class PhotoMirror:
    """The files stage for one photo: download what the plan says, write its metadata from
    the listing (keeping what enrichment stored).  Safe to run in many threads at once."""

    def __init__(self, photostream_dir, client, executor, stats, reporter):
        self.dir = photostream_dir
        self.client = client
        self.executor = executor
        self.stats = stats
        self.reporter = reporter
        self._lock = threading.Lock()
        # Set when every address built from a video's listing record failed and getSizes'
        # worked (a changed path alias or address scheme): the other videos of the run then
        # ask getSizes first.
        self.built_addresses_fail = False

    def _count(self, **increments):
        with self._lock:
            for name, n in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    def _intact(self, task):
        """--verify: does the file still hash to what was recorded when it was written?"""
        actual = describe_file(os.path.join(self.dir, task.filename))
        recorded = task.stored.file if task.stored else None
        if not recorded or recorded.get('name') != task.filename:
            return True   # nothing recorded (an adopted file): record it now
        if (actual['size'], actual['sha256']) == (recorded.get('size'), recorded.get('sha256')):
            return True
        self._count(damaged=1)
        self.reporter.warning('%s is damaged (its SHA-256 changed since it was downloaded); '
                              'downloading it again' % task.filename)
        return False

    def run(self, task):
        """Returns (the media file name now in photostream/, its file record, its metadata)."""
        filename = task.filename
        file_info = task.stored.file if task.stored else None
        if task.verify:
            self._count(verified=1)   # hashed, found missing, or fetched anew: each item once
        if task.verify and filename and not task.need_file and not self._intact(task):
            task.need_file = task.repair = True   # fetch it again
        adopted = self.adopt_hand_original(task) if task.hand_original else None
        if adopted is not None:
            file_info = adopted
        elif task.need_file or filename is None:
            file_info = self.download_best(task)
        elif task.try_original and (recovered := self.try_recorded_original(task)):
            file_info = recovered
        elif file_info is None or file_info.get('name') != filename:
            # nothing recorded (an adopted or legacy file): record it now
            file_info = dict(describe_file(os.path.join(self.dir, filename)), **original_marks(file_info))
        name = file_info['name']
        task.hand_original = task.hand_original if adopted is not None else None
        metadata = build_photo_metadata(task.record, file_info, task.stored)
        self.executor.run(self._plan_marks(task, name, metadata))
        return name, file_info, metadata

    def _plan_marks(self, task, name, metadata):
        """The file's time, then its metadata: written last, it marks the photo as done.  A
        rewrite of the metadata alone counts as an update of it."""
        actions = []
        when = taken_timestamp(task.record)
        if when is not None and file_mtime(os.path.join(self.dir, name)) != when:
            actions.append(SetTime(os.path.join(PHOTOSTREAM_DIR, name), when))
        data = json_bytes(metadata)
        if file_bytes(metadata_path_for(self.dir, name)) != data:
            alone = not (task.need_file or task.hand_original) and name == task.filename
            actions.append(WriteMetadata(metadata_path_for(PHOTOSTREAM_DIR, name), data,
                                         counts=('metadata_updated', name) if alone else None))
        return actions

    def download_best(self, task):
        """The original when Flickr gives it, else the best version it does give.  A video's
        addresses built from the listing are a guess: when every one fails, getSizes, asked
        once, says where its files are."""
        record, photo_id = task.record, task.photo_id
        built = None if is_video(record) and self.built_addresses_fail else listing_choices(record)
        info = self._download_first(task, built or choices_from_sizes(record, self.client.photo_sizes(photo_id)))
        if info is None and built and is_video(record):
            info = self._download_first(task, choices_from_sizes(record, self.client.photo_sizes(photo_id)))
            if info is not None and not self.built_addresses_fail:
                self.built_addresses_fail = True
                self.reporter.detail('The addresses built from the listing failed for video %s and getSizes\' '
                                     'worked: the other videos ask getSizes first' % photo_id)
        if info is None:
            raise ItemError('Flickr offers no file for %s %s' % ('video' if is_video(record) else 'photo', photo_id))
        return info

    def _download_first(self, task, choices):
        """The file record of the first of `choices` Flickr gives, or None."""
        record, photo_id = task.record, task.photo_id
        refused = None
        # a file without its metadata was never complete (a killed run): new, not updated
        replacing = bool(task.filename and task.stored)
        tally = ('updated',) if replacing else ('new', 'new_videos') if is_video(record) else ('new',)
        for choice in choices:
            try:
                name, size, digest = self.executor.apply(Download(
                    PHOTOSTREAM_DIR, choice, lambda r, c=choice: '%s.%s' % (photo_id, extension_for(record, c, r)),
                    note='' if choice.original else choice.label, tally=tally, replacing=replacing))
            except OriginalRefused:
                refused = refused or (choice if choice.original else None)
                continue   # refused, or a rendition this video does not have
            self.replaced(task.filename, name)
            info = {'name': name, 'size': size, 'sha256': digest, 'label': choice.label,
                    'original': choice.original}
            if not choice.original and refused is not None:
                info['original_url'] = refused.url
            return info
        return None

    def try_recorded_original(self, task):
        """A video kept as a rendition: ask for its original once more (one file request, no
        API call).  None when Flickr still refuses it.  The address is the listing's where
        it gives one (the owner's path alias may have changed since), else the one recorded."""
        current = [] if self.built_addresses_fail else [
            c.url for c in listing_choices(task.record) or () if c.label == VIDEO_ORIGINAL]
        url = current[0] if current else task.stored.file['original_url']
        choice = Choice(VIDEO_ORIGINAL, url, 'video' if is_video(task.record) else 'image')
        kept = task.stored.file.get('label') or 'rendition'
        try:
            name, size, digest = self.executor.apply(Download(
                PHOTOSTREAM_DIR, choice, lambda r: '%s.%s' % (task.photo_id, extension_for(task.record, choice, r)),
                note='the original Flickr now gives: it replaces the %s kept so far' % kept,
                tally=('updated', 'originals_recovered'), replacing=True, loud=True))
        except (OriginalRefused, TransientError, ItemError, FilesHeldBack) as e:
            self.reporter.detail('The original of %s is still not available: %s' % (task.filename, first_line(e)))
            return None
        self.replaced(task.filename, name)
        return {'name': name, 'size': size, 'sha256': digest, 'label': VIDEO_ORIGINAL, 'original': True}

    def adopt_hand_original(self, task):
        """An original the user downloaded by hand and put into photostream/: it becomes the
        photo's file, replacing the rendition kept so far, when it is what a download must be
        (a regular file of the right kind); else None, and it is left where it is, named."""
        source = os.path.join(self.dir, task.hand_original)
        ext = os.path.splitext(task.hand_original)[1].lstrip('.').lower()
        misfit = hand_original_misfit(source, task.record, ext)
        if misfit:
            self.reporter.warning('Left %s where it is, not adopted as the original of %s %s: %s'
                                  % (os.path.join(PHOTOSTREAM_DIR, task.hand_original),
                                     'video' if is_video(task.record) else 'photo', task.photo_id, misfit))
            return None
        name = '%s.%s' % (task.photo_id, ext)
        info = describe_file(source)
        tally = ('updated',) if task.filename else ('new', 'new_videos') if is_video(task.record) else ('new',)
        self.executor.apply(Adopt(os.path.join(PHOTOSTREAM_DIR, task.hand_original), os.path.join(PHOTOSTREAM_DIR, name),
                                  tally=tally + ('originals_recovered',)))
        self.replaced(task.filename, name)
        return dict(info, name=name, label=VIDEO_ORIGINAL, original=True, source='added by hand')

    def replaced(self, old_name, new_name):
        """A new file under another name (e.g. '.mp4' where a rendition was): drop the old."""
        if old_name and old_name != new_name:
            self.executor.run(Delete(os.path.join(PHOTOSTREAM_DIR, old)) for old in (old_name, old_name + METADATA_SUFFIX)
                              if os.path.lexists(os.path.join(self.dir, old)))


def hand_original_misfit(path, record, ext):
    """Why a file put into photostream/ by hand is not the original (None when it is): a
    symbolic link or anything but a regular file; for a video no video container, for a
    photo not an image of the listed format and dimensions (export_misfit, as for the
    export's files)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        return 'it is a symbolic link' if e.errno == errno.ELOOP else e.strerror
    with os.fdopen(fd, 'rb') as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return 'it is not a regular file'
        head = f.read(HEAD_BYTES)
    return export_misfit(record, ext, head)


def original_marks(file_info):
    """What a file record says about being the original or not, carried to a fresh hash."""
    return {k: v for k, v in (file_info or {}).items() if k in ('label', 'original', 'original_url', 'source')}


def build_photo_metadata(record, file_info, stored, info=None, comments=None, enriched=None, people=None):
    """A photo's .metadata: the listing, the file, and what enrichment read (getInfo,
    comments and people), with the lastupdate it was read at.  Without new enrichment, the
    stored one is kept, so that a files-stage rewrite never loses it."""
    if enriched is None and stored is not None:
        info, comments, enriched, people = stored.info, stored.comments, stored.enriched, stored.people
    metadata = {
        'flickrmirrorer': {'format': PHOTO_METADATA_FORMAT, 'enriched': enriched},
        'listing': record,
        'file': file_info,
    }
    if info:
        metadata['photo'] = strip_volatile(info)
    if comments and to_int(record.get('count_comments')) > 0:
        metadata['comments'] = comments
    if people and has_people(info):
        metadata['people'] = people
    if stored is not None and stored.export:
        metadata[EXPORT_KEY] = stored.export
    return metadata


def file_mtime(path):
    """A file's modification time (not a link's target's); None when there is none."""
    try:
        return os.stat(path, follow_symlinks=False).st_mtime
    except OSError:
        return None


# -- thumbnails

class ThumbnailFetcher:
    """Downloads thumbnails through the transport (its pause gate too).  A thumbnail that
    cannot be fetched leaves its photo without a preview until the next run: never a failed
    run or another exit status."""

    def __init__(self, transport):
        self.transport = transport

    def _fetch_once(self, url, path, dirs):
        with self.transport.get(url, lambda r: judge_thumbnail(r, url), timeout=(15, 60)) as response:
            atomic_write_bytes(path, response.content, dirs)

    def fetch(self, url, path, dirs=None):
        """True when the thumbnail is now at path (its directory synced later when `dirs`,
        a SyncBatch, is given)."""
        try:
            self.transport.retrying(lambda: self._fetch_once(url, path, dirs), url)
            return True
        except (KeyboardInterrupt, LinkInTheWay):
            raise
        except Exception as e:   # noqa: BLE001 -- whatever it was, the run goes on
            self.transport.reporter.detail('No thumbnail for %s this time: %s'
                                           % (os.path.basename(path), first_line(e)))
            return False


def judge_thumbnail(response, url):
    verdict = judge_status(response, url)
    if verdict is not None:
        raise verdict
    content_type = response.headers.get('Content-Type', '').split(';')[0].strip().lower()
    expected = to_int(response.headers.get('Content-Length'), None)
    try:
        body = response.content
    except NETWORK_ERRORS as e:   # a broken-off body: worth another try
        raise network_failure(e, 'thumbnail %s' % url) from None
    if not content_type.startswith('image/') or not body or expected is not None and len(body) != expected:
        raise TransientError('no thumbnail at %s (%s, %d bytes)' % (url, content_type or '?', len(body)))


# -- the files stage: list and plan page by page, download in the pool

@dataclass
class RunState:
    """What the listing and the files stage found, which the later stages read."""
    dest: str
    photostream: list = field(default_factory=list)   # Photo.kept() of every listed photo, Flickr's order
    files: dict = field(default_factory=dict)         # photo id -> media file name, every listed photo held
    unlisted: dict = field(default_factory=dict)      # ... and the local photos the listing did not show
    to_enrich: list = field(default_factory=list)     # ... of each photo to enrich
    enrich_calls: int = 0                             # ... and the API calls it will take (for the ETA)
    not_original: dict = field(default_factory=dict)  # photo id -> file record of a file not the original
    newly_not_original: int = 0                       # ... of which kept so for the first time this run
    failed: list = field(default_factory=list)        # (photo id, message)
    incomplete: list = field(default_factory=list)    # what made the listing incomplete (nothing deleted)
    missing: set = field(default_factory=set)         # photo ids whose file went missing (--verify)
    thumbnails: tuple = (0, 0)                        # (fetched, failed) for the HTML view
    owner: str = None                                 # the account's NSID, for photo page URLs
    export_groups: dict = field(default_factory=dict)  # group id -> photo ids, from the export (export-only)

    @functools.cached_property
    def photostream_dir(self):   # asked for a few times a photo
        return os.path.join(self.dest, PHOTOSTREAM_DIR)

    def note_not_original(self, photo_id, file_info, new=False):
        if file_info and file_info.get('original') is False:
            self.not_original[photo_id] = file_info
            self.newly_not_original += 1 if new else 0
        else:
            self.not_original.pop(photo_id, None)


class WorkPool:
    """run_bounded() on --jobs threads, a progress bar on a terminal, and the one place an
    item's failure is counted and told: too many in a row stop the run."""

    def __init__(self, jobs, state, stats, reporter, stop_event):
        self.jobs = jobs
        self.state = state
        self.stats = stats
        self.reporter = reporter
        self.stop_event = stop_event
        self.errors_in_a_row = 0
        self.progress = None

    def run(self, description, work, finish, total=None):
        def finish_and_advance(key, future):
            finish(key, future)
            self.advance()
        self.progress = self.reporter.progress_bar(description, total=total)
        self.errors_in_a_row = 0
        try:
            run_bounded(self.jobs, work, finish_and_advance, self.stop_event)
        finally:
            self.reporter.close_progress()
            self.progress = None

    def set_total(self, total):
        if self.progress is not None:
            self.progress.total = total
            self.progress.refresh()

    def advance(self):
        if self.progress is not None:
            self.progress.set_postfix_str(human_bytes(self.stats.bytes), refresh=False)
            self.progress.update(1)

    def succeeded(self):
        self.errors_in_a_row = 0

    def item_failed(self, photo_id, message, counter='failed'):
        """Only items attempted in this run and really failed count toward the stop; a video
        kept as a rendition is no failure.  `counter`: a file that came but whose metadata
        did not, or a --verify repair, is counted apart."""
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self.state.failed.append((photo_id, message))
        self.reporter.error('could not mirror %s: %s' % (photo_id, message.splitlines()[0]))
        self.errors_in_a_row += 1
        if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            raise FatalError('%d photos in a row failed; stopping.  Flickr may be down: run again '
                             'later, the mirror resumes where it stopped.' % self.errors_in_a_row)


class FilesStage:
    """List the photostream, plan each photo as its page arrives, and fetch its file in the
    pool: every original is in place before enrichment spends a call."""

    def __init__(self, args, state, client, photos, pool, stats, reporter):
        self.args = args
        self.state = state
        self.client = client
        self.photos = photos
        self.pool = pool
        self.stats = stats
        self.reporter = reporter
        self.listing = ListingCheck()
        self.transport = photos.executor.downloader.transport

    def run(self, local):
        self.reporter.info('Reading your photostream from Flickr...')
        self.pool.run('Files', self.tasks(local), self.finish)
        self.reporter.info('Photostream: %s on Flickr.' % plural(len(self.state.photostream), 'item'))
        if self.stats.files_left:
            self.stats.files_left_until = self.transport.held_back.until
            self.reporter.warning('%s left; Flickr asked to wait until %s.  The next run fetches them.'
                               % (plural(self.stats.files_left, 'file'), self.stats.files_left_until))
        self.check_listing(local)

    def held_back(self, task):
        """Is the task's download held back (Flickr's file servers asked for a long wait)?
        Then it is left for the next run, counted."""
        held = self.transport.held_back
        if held is None or time.monotonic() >= held.at or not task.need_file:
            return False
        self.stats.files_left += 1
        return True

    def tasks(self, local):
        """The files stage's work, planned photo by photo as the listing pages arrive.  Those
        that need an API call first (a video's getSizes, a photo without url_o) come last:
        waiting for the budget, they would hold a download worker from the photos."""
        state = self.state
        seen = set()
        need_a_call = []
        for record in self.client.photostream(self.listing, on_total=self.pool.set_total):
            photo_id = record.get('id')
            if not photo_id or photo_id in seen:   # a photo can move pages during the walk
                continue
            seen.add(photo_id)
            if not valid_id(photo_id):   # its files would be named after it
                self.pool.item_failed(shown_id(photo_id), 'Flickr listed it with an id that is not a number; refused')
                continue
            state.owner = state.owner or record.get('owner')
            task, left = self.plan(record, local, photo_id)
            # as the views will read it: its .metadata where the files stage leaves it as it is
            summary = left.kept(from_file=True) if left is not None else Photo.from_listing(record).kept()
            state.photostream.append(summary)
            if task is not None:
                task.summary = summary
            if task is not None and task.need_enrich:
                state.to_enrich.append(summary)
                state.enrich_calls += max(1, enrichment_calls(task.record, None if task.need_file else task.stored))
            if task is None or not task.files_stage:
                self.pool.advance()
                continue
            if task.need_file and listing_choices(task.record) is None:
                need_a_call.append(task)
                continue
            if not self.held_back(task):
                yield task, self.photos.run, task
        yield None   # the photos are all in place before the first of these
        for task in need_a_call:
            if not self.held_back(task):
                yield task, self.photos.run, task

    def check_listing(self, local):
        """Did the walk see every photo?  Short pages that never healed, or photos deleted
        or added on Flickr while we were paging, can hide some: then the photos we hold but
        did not see stay in the trees, and nothing is deleted."""
        problem = self.listing.problem(len(self.state.photostream), 'photos')
        if problem is None:
            return
        self.state.incomplete.append(problem)
        self.state.files.update(local.unlisted())

    def plan(self, record, local, photo_id):
        """(the photo's PhotoTask or None, the photo its .metadata describes where the files
        stage leaves that file as it is, else None)."""
        state = self.state
        filename = local.take(photo_id)
        if filename:
            state.files[photo_id] = filename   # linked from albums even when its media type is ignored
        if not wanted_media(record, self.args):
            self.stats.skipped += 1
            return None, None
        if photo_id in local.orphaned_metadata:   # the file went missing since it was mirrored
            self.stats.missing += 1
            state.missing.add(photo_id)
        stored = None
        if filename:
            stored = Photo.from_metadata(read_json(metadata_path_for(state.photostream_dir, filename)), texts=False)
        task = plan_photo(record, filename, stored, local.hand_originals.get(photo_id),
                          misfit=functools.partial(export_file_misfit, state.photostream_dir))
        if task is None and self.args.verify:
            task = PhotoTask(record=strip_volatile(record), filename=filename, stored=stored)
        if task is not None:
            task.verify = self.args.verify
        if task is None or not task.files_stage:   # else the files stage tells (finish)
            state.note_not_original(photo_id, stored.file if stored else None)
            return task, stored
        return task, None

    def finish(self, task, future):
        photo_id = task.photo_id
        try:
            name, file_info, metadata = future.result()
        except FilesHeldBack:   # not a failure: the next run fetches it
            self.stats.files_left += 1
        except (ItemError, TransientError, OSError, UnicodeError, LinkInTheWay) as e:
            if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG):
                raise FatalError('Cannot write to %s: %s' % (self.state.dest, e.strerror)) from None
            self.pool.item_failed(photo_id, 'cannot write: %s' % e if isinstance(e, OSError) else str(e),
                                  counter='unrepaired' if task.repair or photo_id in self.state.missing else 'failed')
        else:
            self.state.files[photo_id] = name
            task.summary.refresh(metadata)
            kept_so_before = bool(task.stored and task.stored.file and task.stored.file.get('original') is False)
            self.state.note_not_original(photo_id, file_info, new=not kept_so_before)
            self.pool.succeeded()


# ---------------------------------------------------------------------------
# Free accounts: what Flickr's API gives them, said plainly
# ---------------------------------------------------------------------------
# Since 15 May 2025 Flickr gives a free account's own photos at most 1024 px through its API
# (its blog, 2025-04-15, "Service Update: Original & Large Size Download Limitations on Free
# Accounts"); the listing then offers no url_o and getSizes stops at 'Large'.  The originals
# are still in Flickr's data export, which --import-export reads.

FREE_ACCOUNT_LIMIT_PX = 1024
FREE_ACCOUNT_LABEL = 'Large'   # Flickr's name of its 1024 px size; a photo may lack it
EXPORT_REQUEST_URL = 'https://www.flickr.com/account'


def account_is_free(client, nsid, reporter):
    """people.getInfo's ispro for the logged-in user, read once a run (a listing call): True
    on a free account, False on a Pro one, None when Flickr did not say."""
    if not nsid:
        return None
    try:
        person = client.person(nsid)
    except (TransientError, ItemError) as e:
        reporter.detail('Could not read whether the account is Pro: %s' % first_line(e))
        return None
    return {'0': True, '1': False}.get(as_scalar(person.get('ispro')))


def not_original_warning(photos, videos, dest, free, smaller=0):
    """The run's warning about the items kept as another version than the original: on a free
    account the 1024 px limit, named, and how many photos are kept at it and how many
    `smaller` (Flickr has no 1024 px size of them); the hand download for videos; the data
    export for all, with the command that imports it."""
    by_hand = ('A video\'s original can also be downloaded from its Flickr page (Download, Original) into '
               '%s as %s (Flickr\'s own download name works too): the next run adopts it.  '
               % (os.path.join(dest, PHOTOSTREAM_DIR), HAND_ORIGINAL_NAME)) if videos else ''
    export = ('The list is in %s.  Flickr\'s data export holds their originals: ask for it at %s ("Request my '
              'Flickr data"; Flickr e-mails you when it is ready, hours to days later), save its zips in a '
              'folder, then run: %s' % (os.path.join(dest, NOT_ORIGINAL_LIST), EXPORT_REQUEST_URL,
                                        import_command(dest)))
    if free and photos:
        kept = [plural(n, 'photo') + (' is' if n == 1 else ' are') + ' kept ' + how for n, how in (
            (photos - smaller, 'at %d px' % FREE_ACCOUNT_LIMIT_PX),
            (smaller, 'smaller (Flickr has no %d px size of %s)' % (FREE_ACCOUNT_LIMIT_PX,
                                                                    'it' if smaller == 1 else 'them'))) if n]
        return ('since 15 May 2025 Flickr gives a free account\'s photos at most %d px: %s%s.  '
                '%s%s' % (FREE_ACCOUNT_LIMIT_PX, ' and '.join(kept),
                          ', and %s as the best rendition Flickr offers' % plural(videos, 'video') if videos else '',
                          by_hand, export))
    what = ('%s and %s' % (plural(videos, 'video'), plural(photos, 'photo')) if photos and videos
            else plural(videos or photos, 'video' if videos else 'photo'))
    return ('Flickr did not give the original of %s to %s; the best version it offers is kept '
            'instead.  %s%s' % (what, program_name(), by_hand, export))


# ---------------------------------------------------------------------------
# Import Flickr's data export: the originals the API refuses
# ---------------------------------------------------------------------------
# "Request my Flickr data" (flickr.com/account) gives metadata zips
# ('<digits>_<hex>_part1.zip', a big account's photo_<id>.json going on in '_part2.zip', ...:
# account_profile.json, albums.json, photo_<id>.json per item, contacts / followers /
# faves_partNNN.json, galleries.json, ...) and media zips of about 500 originals each
# ('data_<digits>_<hex>_<n>.zip', older 'data-download-<n>.zip').  Real exports name a photo
# '<slug>_<id>_o.<ext>', '<id>_<secret>_o.<ext>' (untitled), '<id>_o.<ext>' or '<slug>_<id>_o'
# (no extension), '_O' and '.JPG' in any case, a video '<slug>_<id>.<ext>' or
# 'video_<id>.<ext>': a file's photo is the one known photo (listed, or described by a
# photo_<id>.json) whose id is a run of digits in its name, never a run taken by its place.
# Nothing in photo_<id>.json marks a video, and a video's 'original' address gives its still
# frame.  Exports miss media: a photo without a file is fetched from its 'original' address
# where the run has no other source, and DEST/export-report.txt says what the export lacks.
# The export never overrides what the API says, it fills in: a member is adopted only where
# the mirror holds less than the original and the member fits the listing, and it is checked
# to its last byte (MediaCheck).  Members are streamed from the zips (never extracted), one at
# a time; a member's name is never used as a path.
#
# Without an API key (or with --offline) the export alone makes the mirror
# (DataExport.import_alone, wired by mirror_export): each media file whose photo_<id>.json
# the export holds becomes photostream/<id>.<ext>, its .metadata the file record and that
# JSON (no listing: Photo.from_export reads it), albums.json the albums.  A later run with a
# key adopts those files (plan_photo, export_file_misfit).
#
#     dest/account/<file>.json           the account-level files, verbatim
#     dest/html/account.html             contacts, followers, favourites and galleries
#     .metadata 'export'                 the photo's photo_<id>.json, as Flickr wrote it

ACCOUNT_DIR = 'account'
ACCOUNT_PAGE = 'account.html'
ACCOUNT_STAMP = '.flickrmirrorer-export.json'   # which export dest/account/ holds
EXPORT_REPORT = 'export-report.txt'              # what the export lacks (DataExport._report_completeness)
EXPORT_META_ZIP_RE = re.compile(r'^\d+_[0-9a-f]+_part\d+\.zip$', re.I)
EXPORT_MEDIA_ZIP_RE = re.compile(r'^(?:data_\d+_[0-9a-f]+_\d+|data-download-\d+)\.zip$', re.I)
EXPORT_PHOTO_JSON_RE = re.compile(r'^photo_(\d+)\.json$', re.I | re.ASCII)   # PHOTO_<id>.JSON too (flickr-unbox's samples)
EXPORT_ACCOUNT_FILE_RE = re.compile(r'^[a-z][a-z0-9_]*\.json$')
EXPORT_EXT_RE = re.compile(r'\.([A-Za-z0-9]{2,5})$')
EXPORT_DIGITS_RE = re.compile(r'(?<![0-9])[0-9]+(?![0-9])')
# Where an export's 'original' address may point: Flickr's image servers, nowhere else.
EXPORT_ORIGINAL_HOST_RE = re.compile(r'^https?://((?:[a-z0-9-]+\.)*staticflickr\.com)/((?:\d+/)+\d+_[0-9a-f]+_o\.[a-z0-9]+)$')
# Flickr's own catch-alls in albums.json ("not in an album 1", 2, ...): not albums.
SYNTHETIC_ALBUM_RE = re.compile(r'^not in an album \d+$', re.I)
# No member of a zip comes near this; a zip that says otherwise is damaged or hostile, and
# never inflated.
MAX_EXPORT_MEDIA_BYTES = 64 << 30
# Originals refused in a row by the image servers (after their retries) before the rest are
# not asked for: a free account's are all refused, each after a minute of retries.
REFUSALS_TO_STOP = 5
MAX_EXPORT_JSON_BYTES = 256 << 20
MAX_INFLATION = 1100   # deflate's limit is about 1032:1


class ExportReadError(Exception):
    """A part of the export could not be read (a damaged zip or member)."""


@dataclass
class ExportMember:
    """One file of the export: a zip member, or a file of the export unzipped."""
    source: object
    name: str                # as in the zip, or relative to the unzipped directory
    size: int                # its declared (uncompressed) size
    info: object = None      # its ZipInfo
    symlink: bool = False

    @property
    def base(self):
        return re.split(r'[\\/]', self.name)[-1]

    @property
    def where(self):
        return '%s in %s' % (self.name, self.source.label)


class ZipSource:
    """One zip of the export, opened when needed (a big export has hundreds)."""

    def __init__(self, path):
        self.path = path
        self.label = path
        self.name = os.path.basename(path)
        self.size = 0
        self._zip = None

    def open(self):
        if self._zip is not None:
            return self
        try:
            self.size = os.stat(self.path).st_size
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error) as e:
            raise ExportReadError('%s is not a complete zip file (truncated or damaged: %s)'
                                  % (self.path, first_line(e))) from None
        except OSError as e:
            raise ExportReadError('cannot read %s: %s' % (self.path, e.strerror or e)) from None
        return self

    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def members(self):
        for info in self._zip.infolist():
            if not info.is_dir():
                yield ExportMember(self, info.filename, info.file_size, info,
                                   stat.S_ISLNK(info.external_attr >> 16))

    def member(self, name):
        info = self._zip.NameToInfo.get(name)
        return ExportMember(self, name, info.file_size, info, stat.S_ISLNK(info.external_attr >> 16)) if info else None

    def date(self, members):
        return max(('%04d-%02d-%02d %02d:%02d:%02d' % m.info.date_time for m in members), default='')

    def reader(self, member):
        if member.info.flag_bits & 0x1:
            raise ExportReadError('%s is encrypted' % member.where)
        why = absurd_size(member, self.size)
        if why:
            raise ExportReadError('%s %s' % (member.where, why))
        try:
            return self._zip.open(member.info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError, zlib.error) as e:
            raise ExportReadError('%s cannot be read: %s' % (member.where, first_line(e))) from None


class DirSource:
    """The export already unzipped: the files under a directory (symlinks never followed)."""

    def __init__(self, root, files):
        self.root = root
        self.label = root
        self.name = os.path.basename(os.path.normpath(root))
        self._files = files   # relative paths

    def open(self):
        return self

    def close(self):
        pass

    def _member(self, rel):
        try:
            st = os.lstat(os.path.join(self.root, rel))
        except OSError:
            return None
        return ExportMember(self, rel, st.st_size, None, stat.S_ISLNK(st.st_mode))

    def members(self):
        for rel in self._files:
            member = self._member(rel)
            if member is not None:
                yield member

    def member(self, name):
        return self._member(name) if name in self._files else None

    def date(self, members):
        stamps = [os.lstat(os.path.join(self.root, m.name)).st_mtime for m in members]
        return time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(max(stamps))) if stamps else ''

    def reader(self, member):
        try:
            fd = os.open(os.path.join(self.root, member.name), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            raise ExportReadError('cannot read %s: %s' % (os.path.join(self.root, member.name), e.strerror)) from None
        return os.fdopen(fd, 'rb')


def absurd_size(member, zip_size):
    """Why a zip member's declared size cannot be true, or None."""
    info = member.info
    limit = MAX_EXPORT_JSON_BYTES if member.base.endswith('.json') else MAX_EXPORT_MEDIA_BYTES
    if info.file_size > limit:
        return 'declares %s, more than any Flickr file' % human_bytes(info.file_size)
    if info.header_offset + info.compress_size > zip_size:
        return 'declares %s, more than its zip holds' % human_bytes(info.compress_size)
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        return 'declares %d bytes but holds %d' % (info.file_size, info.compress_size)
    if info.file_size > max(info.compress_size, 1) * MAX_INFLATION:
        return 'declares %s from %s compressed: no real file inflates so' % (
            human_bytes(info.file_size), human_bytes(info.compress_size))
    return None


def last_of(members, base):
    """The last member of that name (a zip may hold two: the last is the one unzip leaves)."""
    found = None
    for member in members:
        if member.base == base and not unsafe_member(member):
            found = member
    return found


def said_twice(members, source, reporter):
    """One rule for a metadata zip that holds a file twice (under one name or in two
    folders): the last copy is used, everywhere, and that is said once."""
    counts = Counter(m.base for m in members if m.base.endswith('.json'))
    twice = sorted(name for name, n in counts.items() if n > 1)
    if twice:
        reporter.warning('%s holds %s twice (%s): the last copy of each is used, as unzip would leave it'
                         % (source.label, plural(len(twice), 'file'), ', '.join(twice[:5]) + (', ...' if len(twice) > 5 else '')))


def unsafe_member(member):
    """Why a member's name or kind is not what an export holds (it is then never used)."""
    name = member.name
    if member.symlink:
        return 'a symbolic link'
    if '\x00' in name:
        return 'its name holds a NUL character'
    if name.startswith(('/', '\\')) or re.match(r'^[A-Za-z]:', name):
        return 'an absolute path'
    if '..' in re.split(r'[\\/]', name):
        return "its name climbs out with '..'"
    return None


def split_export_media_name(name):
    """(stem, extension or None, marked '_o') of a media file's name: the extension (lower
    case) only where it is an image's or a video's, '_o' in either case taken off the stem.
    Real exports name a photo '<slug>_<id>_o.<ext>', '<id>_<secret>_o.<ext>', '<id>_o.<ext>' or
    '<slug>_<id>_o' (no extension), a video '<slug>_<id>.<ext>' or 'video_<id>.<ext>'."""
    base = re.split(r'[\\/]', name)[-1]
    match = EXPORT_EXT_RE.search(base)
    ext = match.group(1).lower() if match else None
    if ext not in IMAGE_FILE_EXTENSIONS and ext not in VIDEO_FILE_EXTENSIONS:
        ext, match = None, None
    stem = base[:match.start()] if match else base
    marked = bool(re.search(r'_o$', stem, re.I))
    return (stem[:-2] if marked else stem), ext, marked


def export_name_numbers(name):
    """The runs of digits in a media file's name (its stem), each once, in order: the photo
    id is the one that is a known photo, never one taken by its place."""
    stem, _, _ = split_export_media_name(name)
    return list(dict.fromkeys(EXPORT_DIGITS_RE.findall(stem)))


def looks_like_export_media(name):
    """A name Flickr's export gives (split_export_media_name): digits, and an image's
    extension after '_o', a video's, or none after '_o'."""
    stem, ext, marked = split_export_media_name(name)
    if not EXPORT_DIGITS_RE.search(stem):
        return False
    return ext in VIDEO_FILE_EXTENSIONS or marked and (ext is None or ext in IMAGE_FILE_EXTENSIONS)


def content_extension(head):
    """The extension a file's first bytes call for (a file the export names without one)."""
    image = sniff_image(head)
    if image:
        return image
    if not is_video_container(head):
        return None
    if head[4:8] == b'ftyp':
        return 'mov' if head[8:12] == b'qt  ' else 'mp4'
    if head[4:8] in (b'moov', b'mdat', b'wide', b'free', b'skip'):
        return 'mov'
    if head[:4] == b'RIFF':
        return 'avi'
    if head[:4] == b'\x1a\x45\xdf\xa3':
        return 'mkv'
    return None


def find_export_sources(paths):
    """The export's parts under the paths given: each zip, and each directory's loose files
    (the export unzipped).  A path that is missing or unreadable stops the run (exit 2)."""
    sources, seen = [], set()
    for path in paths:
        path = os.path.abspath(os.path.expanduser(path))
        if os.path.realpath(path) in seen:   # given twice, or a folder and a zip in it
            continue
        seen.add(os.path.realpath(path))
        if not os.path.exists(path):
            raise FatalError('Cannot read the export %s: no such file or directory.' % path, EXIT_USAGE)
        if not os.access(path, os.R_OK) or os.path.isdir(path) and not os.access(path, os.X_OK):
            raise FatalError('Cannot read the export %s: permission denied.' % path, EXIT_USAGE)
        if not os.path.isdir(path):
            sources.append(ZipSource(path))
            continue
        loose = []
        for root, dirs, files in os.walk(path, onerror=unreadable_export):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                if name.lower().endswith('.zip') and not os.path.islink(full):
                    if os.path.realpath(full) not in seen:
                        seen.add(os.path.realpath(full))
                        sources.append(ZipSource(full))
                else:
                    loose.append(os.path.relpath(full, path).replace(os.sep, '/'))
        if loose:
            sources.append(DirSource(path, loose))
    return sources


def unreadable_export(error):
    raise FatalError('Cannot read the export %s: %s.' % (error.filename, error.strerror), EXIT_USAGE)


def classify_export_source(source, members):
    """('metadata' and/or 'media' roles, or None: not Flickr's export)."""
    names = [m.base for m in members]
    metadata = (isinstance(source, ZipSource) and EXPORT_META_ZIP_RE.match(source.name)
                or 'account_profile.json' in names or any(EXPORT_PHOTO_JSON_RE.match(n) for n in names))
    if isinstance(source, DirSource):
        media = any(looks_like_export_media(n) for n in names)
    else:
        media = (EXPORT_MEDIA_ZIP_RE.match(source.name)
                 or bool(names) and not metadata and all(looks_like_export_media(n) for n in names))
    return {role for role, yes in (('metadata', metadata), ('media', media)) if yes}


def export_original_url(photo_json):
    """The address to fetch a photo's original from: its photo_<id>.json's 'original', when
    that is on Flickr's image servers (on the emulation's when FLICKR_API_BASE points
    there); None otherwise."""
    match = EXPORT_ORIGINAL_HOST_RE.match(text_of(as_dict(photo_json).get('original')))
    if not match:
        return None
    if WEB_BASE != FLICKR_WEB_BASE:
        return '%s/static/%s' % (WEB_BASE, match.group(2))
    return 'https://%s/%s' % match.groups()   # (older exports say http)


def export_replaced(listing, photo_json):
    """Does the export's photo_<id>.json name another original than Flickr has now (the photo
    replaced after the export was made)?"""
    theirs, secret = export_secret(photo_json), listing.get('originalsecret')
    return bool(theirs and secret and theirs != secret)


@dataclass
class ExportCounts:
    photos: int = 0          # originals imported
    videos: int = 0
    held: int = 0            # already held
    unmatched: int = 0       # members not imported (each said with why)
    failed: int = 0          # members or zips that could not be read
    no_media: int = 0        # kept as another version, and no file for them in the export
    metadata: int = 0        # photo_<id>.json kept in a .metadata
    ignored: int = 0         # of a media type --ignore-* leaves out
    refused: int = 0         # media files refused (not what they claim, damaged, too big)
    fetched: int = 0         # originals fetched from their photo_<id>.json's 'original' address


class DataExport:
    """What --import-export was given: surveyed at the start (so that a path that cannot be
    read, or an export of another account, stops the run before anything is downloaded),
    imported after the files stage."""

    def __init__(self, paths, reporter, stats, stop_event):
        self.reporter = reporter
        self.stop_event = stop_event
        self.stats = stats
        self.counts = ExportCounts()
        self.listed = {}   # photo id -> media of the listed photos; None in an export-only run
        self.media, self.metadata = [], []
        self.refused = {}        # photo id -> [(member, why)]: its media files not taken
        self.unknown_media = []  # (member, why): media files the export describes no photo of
        self.videos = set()      # photo ids the export has a video file of
        self.refused_in_a_row = 0
        for source in find_export_sources(paths):
            self._survey(source)

    def _survey(self, source):
        try:
            members = list(source.open().members())
        except ExportReadError as e:
            self._failed(str(e) + '; its files are not imported')
            return
        finally:
            source.close()
        roles = classify_export_source(source, members)
        if not roles:
            if isinstance(source, ZipSource):
                self.reporter.warning('%s is not part of Flickr\'s data export (no account_profile.json, no '
                                      'photo_<id>.json, no <title>_<id>_o.<ext> originals): skipped' % source.label)
            return
        source.count = sum(1 for m in members if not EXPORT_PHOTO_JSON_RE.match(m.base)
                           and not (isinstance(source, DirSource) and not looks_like_export_media(m.base)))
        if 'metadata' in roles:
            self.metadata.append(source)
        if 'media' in roles:
            self.media.append(source)

    def _failed(self, message):
        self.counts.failed += 1
        self.stats.export_failed += 1
        self.reporter.error(message)

    def _unmatched(self, member, why):
        self.counts.unmatched += 1
        self.reporter.warning('not imported: %s: %s' % (member.where, why))

    def profiles(self):
        """(metadata source, its account_profile.json as a dict) for each metadata source."""
        for source in self.metadata:
            try:
                member = last_of(source.open().members(), 'account_profile.json')
            except ExportReadError:
                continue   # said when it was surveyed
            yield source, as_dict(self._read_json(source, member) if member is not None else None)

    def check_account(self, nsid):
        """Refuse an export of another account (its account_profile.json names another NSID)."""
        for source, profile in self.profiles():
            theirs = as_scalar(profile.get('nsid'))
            if theirs and nsid and theirs != nsid:
                raise FatalError('%s is the data export of another Flickr account (%s, not %s, the account '
                                 'logged in): nothing was imported.' % (source.label, theirs, nsid), EXIT_USAGE)

    def account(self):
        """(NSID, screen name) of the account the export is of; refused when its metadata
        zip is missing or its parts are of two accounts."""
        found = {}
        for source, profile in self.profiles():
            nsid = as_scalar(profile.get('nsid'))
            if nsid:
                found.setdefault(nsid, (source, as_scalar(profile.get('screen_name')) or as_scalar(
                    profile.get('real_name')) or nsid))
        if not self.metadata or not found:
            raise FatalError('Without an API key the mirror is made from the data export alone, and its metadata '
                             'zip (<digits>_<hex>_part1.zip, with account_profile.json and the photo_<id>.json '
                             'files) is not among the paths given: add it.', EXIT_USAGE)
        if len(found) > 1:
            (a, (sa, _)), (b, (sb, _)) = list(found.items())[:2]
            raise FatalError('The paths given hold the data exports of two Flickr accounts (%s in %s, %s in %s): '
                             'give one account\'s export.' % (a, sa.label, b, sb.label), EXIT_USAGE)
        nsid, (source, name) = next(iter(found.items()))
        return nsid, name

    def _read_json(self, source, name):
        """A small JSON member of `source` (by name or member), parsed; None when absent or unreadable."""
        try:
            source.open()
            member = source.member(name) if isinstance(name, str) else name
            if member is None or unsafe_member(member):
                return None
            with source.reader(member) as f:
                data = f.read(MAX_EXPORT_JSON_BYTES + 1)
            return json.loads(data.decode('utf-8')) if len(data) <= MAX_EXPORT_JSON_BYTES else None
        except (ExportReadError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            self.reporter.warning('%s in %s cannot be read (%s): skipped' % (
                name if isinstance(name, str) else name.name, source.label, first_line(e)))
            return None

    def _start(self, dest, files, args, executor):
        self.dest, self.executor = dest, executor
        self.dir = os.path.join(dest, PHOTOSTREAM_DIR)
        self.files = files
        self.wanted = lambda media: not (media == 'video' and args.ignore_videos
                                         or media != 'video' and args.ignore_photos)
        self.seen = set()
        self.photo_jsons = {}   # photo id -> (metadata source, member name)
        dates = []
        for source in self.metadata:
            try:
                members = [m for m in source.open().members() if not unsafe_member(m)]
            except ExportReadError as e:
                self._failed(str(e))
                continue
            said_twice(members, source, self.reporter)
            for member in members:   # the last of two copies, as said_twice tells
                match = EXPORT_PHOTO_JSON_RE.match(member.base)
                if match:
                    self.photo_jsons[match.group(1)] = (source, member.name)
            dates.append(source.date([m for m in members if m.base.endswith('.json')]))
        self.known = set(self.photo_jsons) | set(self.listed or ())
        self.owner = next((as_scalar(p.get('nsid')) for _, p in self.profiles() if as_scalar(p.get('nsid'))), None)
        self.date = max(dates, default='')
        held = as_scalar(as_dict(read_json(os.path.join(dest, ACCOUNT_DIR, ACCOUNT_STAMP))).get('date'))
        self.older = bool(self.date and held > self.date)
        if self.older:
            self.reporter.info('This export (%s) is older than the one the mirror was made from (%s): it only fills '
                               'in what the mirror lacks, and changes nothing the newer one wrote.' % (self.date, held))

    def _run(self, dest, files, args, executor, headline, after_media):
        """Either import's course: every media member, then `after_media()`, then the
        account files, the completeness report and the summary."""
        self.without_media = {}
        self._start(dest, files, args, executor)
        total = sum(s.count for s in self.media)
        self.reporter.info('%s: %s in %s...' % (headline, plural(total, 'file'),
                                               plural(sum(isinstance(s, ZipSource) for s in self.media), 'zip')))
        self.progress = self.reporter.progress_bar('Export', total=total)
        try:
            for source in self.media:
                self._import_media(source)
            after_media()
        finally:
            self.reporter.close_progress()
            for source in self.metadata:
                source.close()
        try:
            executor.run(account_file_actions(self.metadata, dest, self.reporter, self._failed))
        except LinkInTheWay as e:
            part_stopped(e, self.stats, self.reporter)
        self._report_completeness()
        self._report()

    def _report_completeness(self):
        """What the export lacks, in one line and in DEST/export-report.txt: the photos it
        describes without their media (and what became of each), the media files refused,
        those of no photo it describes and, with a key, the listed photos it lacks."""
        lacking = [] if self.listed is None else sorted(set(self.listed) - set(self.photo_jsons), key=int)
        fetched = sum(what.startswith('fetched') for what in self.without_media.values())
        sections = (
            ('Photos the export describes without their media file', [
                '%s  %s  %s' % (pid, self._photo_page(pid), what) for pid, what in sorted(self.without_media.items())]),
            ('Media files refused (another copy, or the original address, may have given the photo)', [
                '%s  %s  %s' % (pid, where, why) for pid, found in sorted(self.refused.items()) for where, why in found]),
            ('Media files of no photo the export describes', ['%s  %s' % (m.where, why) for m, why in self.unknown_media]),
            ('Photos of the photostream the export lacks', ['%s  %s' % (pid, self._photo_page(pid)) for pid in lacking]))
        path = os.path.join(self.dest, EXPORT_REPORT)
        self.reporter.info('Export completeness: %s without media (%d fetched from their original address), %s '
                           'refused, %s of no photo it describes%s; see %s.' % (
                               plural(len(self.without_media), 'photo'), fetched,
                               plural(sum(map(len, self.refused.values())), 'media file'),
                               plural(len(self.unknown_media), 'media file'),
                               '' if self.listed is None else ', %s of the photostream not in it' % plural(
                                   len(lacking), 'photo'), path))
        text = ['# Flickr\'s data export of %s, read into this mirror: what it lacks.' % (self.date or 'no date'),
                '# Each line: the photo id, its Flickr page or the file, and what became of it.']
        for title, lines in sections:
            text += ['', '## %s (%d)' % (title, len(lines))] + lines
        self.executor.run(rewrite(self.dest, WriteFile, EXPORT_REPORT, ('\n'.join(text) + '\n').encode('utf-8')))

    def _import_media(self, source):
        try:
            members = source.open().members()
            for member in members:
                if isinstance(source, DirSource) and not looks_like_export_media(member.base) \
                        or EXPORT_PHOTO_JSON_RE.match(member.base) or source in self.metadata \
                        and EXPORT_ACCOUNT_FILE_RE.match(member.base):
                    continue
                try:
                    self._import_member(member)
                except ExportReadError as e:
                    self._failed(str(e))
                if self.progress is not None:
                    self.progress.update(1)
        except ExportReadError as e:
            self._failed(str(e))
        finally:
            if source not in self.metadata:
                source.close()

    def _import_member(self, member):
        """A media file: its photo is the one known photo whose id is a run of digits in its
        name (never guessed: a name that fits none, or two, is said and left); one that is
        not what it claims is refused, and another copy may still come."""
        if self.stop_event.is_set():
            raise KeyboardInterrupt
        why = unsafe_member(member)
        if why:
            return self._unmatched(member, why)
        ids = [n for n in export_name_numbers(member.base) if n in self.known]
        if len(ids) != 1:
            why = ('no photo it describes has an id in its name' if not ids else
                   'its name fits %s: not guessed' % ' and '.join('photo %s' % i for i in ids))
            self.unknown_media.append((member, why))
            return self._unmatched(member, why)
        pid = ids[0]
        _, ext, _ = split_export_media_name(member.base)
        try:
            if ext is None:   # a name without an extension: its content says what it is
                with member.source.reader(member) as src:
                    ext = content_extension(read_member(src, member, HEAD_BYTES))
                if ext is None:
                    raise MediaRefused('no extension, and its content is no image or video Flickr stores')
            if ext in VIDEO_FILE_EXTENSIONS:
                self.videos.add(pid)
            return self._import_found(member, pid, ext)
        except (MediaRefused, ExportReadError) as e:
            why = str(e)   # (a read error names the member already)
            return self._refuse(pid, member, why[len(member.where):].lstrip(' :') if why.startswith(member.where)
                                else why)

    def _refuse(self, pid, member, why):
        """A media file not taken for its photo: said now, in the report, and a failure of the
        run only if the photo ends with no file at all."""
        self.counts.refused += 1
        self.refused.setdefault(pid, []).append((member.where, why))
        self.reporter.warning('refused: %s: %s' % (member.where, why))

    def _import_found(self, member, pid, ext):
        """The import of a member whose name gives a photo id: each kind of import's own."""
        raise NotImplementedError

    def _take(self, member, pid, ext, name, old_name, media_of, when, metadata_of, tally=()):
        """The member becomes the photo's file `name` (temporary name, checks, fsync, rename),
        then its time and its metadata (`metadata_of(file record)`); the file it replaces goes
        last, so that a kill at any moment loses nothing.  `media_of`: what the file must be
        (the listing, or the media its extension says)."""
        video = is_video(media_of)
        path = os.path.join(PHOTOSTREAM_DIR, name)
        with member.source.reader(member) as src:
            head = read_member(src, member, HEAD_BYTES)
            why = export_misfit(media_of, ext, head)
            if why:
                raise MediaRefused(why)
            check = MediaCheck(ext, video)
            size, digest = self.executor.apply(Import(
                path, member, lambda f: copy_member(src, f, head, member, self.stop_event, check), tally=tally))
        self.seen.add(pid)
        self.counts.videos += int(video)
        self.counts.photos += int(not video)
        info = {'name': name, 'size': size, 'sha256': digest, 'label': VIDEO_ORIGINAL if video else ORIGINAL,
                'original': True, 'source': EXPORT_SOURCE, 'zip': member.source.name, 'member': member.name}
        self.executor.run([SetTime(path, when)] + rewrite(
            self.dest, WriteMetadata, metadata_path_for(PHOTOSTREAM_DIR, name), json_bytes(metadata_of(info))))
        if old_name and old_name != name:   # a version kept so far, replaced by the original
            self.executor.run(Delete(os.path.join(PHOTOSTREAM_DIR, gone))
                              for gone in (old_name, old_name + METADATA_SUFFIX, old_name + XMP_SUFFIX)
                              if os.path.lexists(os.path.join(self.dir, gone)))
        self.files[pid] = name
        return info

    # -- photo_<id>.json: kept in the photo's .metadata
    def _photo_json(self, pid):
        found = self.photo_jsons.get(pid)
        if found is None:
            return None
        source, name = found
        data = self._read_json(source, name)
        if not isinstance(data, dict) or as_scalar(data.get('id')) != pid:
            if data is not None:
                self.reporter.warning('%s in %s is not the metadata of %s: skipped' % (name, source.label, pid))
            return None
        return data

    def _photo_page(self, pid):
        page = text_of(as_dict(self._photo_json(pid)).get('photopage')) if pid in self.photo_jsons else ''
        return page if re.match(r'^https://www\.flickr\.com/', page) else photo_page_url(
            {'id': pid, 'owner': getattr(self, 'owner', None)})

    def _keep_photo_json(self, name, raw, photo_json):
        if photo_json is None or not isinstance(raw, dict) or raw.get(EXPORT_KEY) == photo_json or self.older:
            return
        self.counts.metadata += 1
        # export-only: the export is all the metadata there is, its update counted
        self.executor.run(rewrite(self.dest, WriteMetadata, metadata_path_for(PHOTOSTREAM_DIR, name),
                                  json_bytes(dict(raw, **{EXPORT_KEY: photo_json})),
                                  counts=('metadata_updated', name) if self.listed is None else None))

    def _report(self):
        c = self.counts
        self.stats.export_imported += c.photos + c.videos
        self.stats.export_unmatched += c.unmatched
        line = ('Data export: %d originals %s (%s, %s), %d already held, %d not matching'
                % (c.photos + c.videos, 'would be imported' if self.executor.dry else 'imported',
                   plural(c.photos, 'photo'), plural(c.videos, 'video'), c.held, c.unmatched))
        if c.failed:
            line += ', %d could not be read' % c.failed
        if c.no_media and self.listed is None:   # export-only: nothing else holds them
            line += '; %s %s no file in this export (a media zip missing or unreadable?) and %s not in the ' \
                    'mirror' % (plural(c.no_media, 'item'), 'has' if c.no_media == 1 else 'have',
                                'is' if c.no_media == 1 else 'are')
        elif c.no_media:
            line += '; %s kept as another version %s no file in this export (a media zip missing or unreadable?)' % (
                plural(c.no_media, 'item'), 'has' if c.no_media == 1 else 'have')
        self.reporter.info(line + '.')


class ExportImport(DataExport):
    """--import-export in a run with an API key: the export fills in what the API refused."""

    # -- the import, after the files stage --
    def import_into(self, dest, photostream, files, on_adopted, args, executor):
        """Fill the mirror in from the export, every change through `executor` (a dry run's
        prints them).  photostream: the listed photos (.id, .media); files: photo id
        -> media file name, updated as originals come in; on_adopted(id, file record) for
        each.  Returns the counts.  The work runs on a worker thread, as
        downloads do: Ctrl+C or SIGTERM reach it as the stop event, at a point where a
        temporary file is always removed."""
        run_bounded(1, [('export', self._import_all, dest, photostream, files, on_adopted, args, executor)],
                    lambda key, future: future.result(), self.stop_event)
        return self.counts

    def _import_all(self, dest, photostream, files, on_adopted, args, executor):
        self.on_adopted = on_adopted
        self.listed = {p.id: p.media for p in photostream}
        self._run(dest, files, args, executor, 'Importing Flickr\'s data export', self._keep_photo_jsons)

    def _import_found(self, member, pid, ext):
        media = self.listed.get(pid)
        if media is None:
            return self._unmatched(member, 'no photo or video %s in the account\'s photostream' % pid)
        if not self.wanted(media):
            self.counts.ignored += 1
            return None
        if pid in self.seen:
            return self._unmatched(member, 'a second file for %s %s (the first was taken)' % (media, pid))
        name = self.files.get(pid)
        raw = read_json(metadata_path_for(self.dir, name)) if name else None
        stored = Photo.from_metadata(raw, texts=False)
        if stored is None or not stored.listing or not os.path.isfile(os.path.join(self.dir, name)):
            return self._unmatched(member, 'the mirror has no %s %s yet (its download failed?): run again'
                                   % (media, pid))
        photo_json = self._photo_json(pid)
        if held_original(self.dir, name, stored.file):
            self.counts.held += 1
            self.seen.add(pid)
            return None if self.older else self._keep_photo_json(name, raw, photo_json)
        if photo_json is not None and export_replaced(stored.listing, photo_json):
            self.seen.add(pid)
            return self._unmatched(member, 'replaced on Flickr after this export was made')
        return self._adopt(member, pid, ext, name, stored, photo_json)

    def _adopt(self, member, pid, ext, old_name, stored, photo_json):
        """The member as the photo's original, its metadata the listing's and getInfo's kept."""
        listing = stored.listing
        said = listed_format(listing) or ext
        name = '%s.%s' % (pid, ext if is_video(listing) else SAME_FORMAT.get(said, said))

        def metadata_of(info):
            metadata = build_photo_metadata(listing, info, stored)
            if photo_json is not None:
                metadata[EXPORT_KEY] = photo_json
            return metadata
        # it replaces the version the mirror held: an update, in the end-of-run line too
        info = self._take(member, pid, ext, name, old_name, listing, taken_timestamp(listing), metadata_of,
                          tally=('updated',))
        self.on_adopted(pid, info)
        return None

    def _keep_photo_jsons(self):
        """The photo_<id>.json of the listed photos that had no media file in the export;
        those still kept as another version are counted (a media zip missing?)."""
        for pid in sorted(set(self.photo_jsons) - self.seen):
            name = self.files.get(pid)
            if pid in self.listed and self.wanted(self.listed[pid]) and not name:
                self.without_media[pid] = 'not in the mirror (its download failed?): run again'
            if pid not in self.listed or not name or not self.wanted(self.listed[pid]):
                continue
            raw = read_json(metadata_path_for(self.dir, name))
            stored = Photo.from_metadata(raw, texts=False)
            if stored is None or not stored.listing:
                continue
            if (stored.file or {}).get('original') is False:
                self.counts.no_media += 1
                self.without_media[pid] = 'kept as %s, not the original (%s)' % (name, stored.file.get('label'))
            else:
                self.without_media[pid] = 'held in the mirror as %s' % name
            self._keep_photo_json(name, raw, self._photo_json(pid))


class ExportAlone(DataExport):
    """Export-only (no API key, or --offline): the mirror from the export alone."""

    def import_alone(self, dest, files, args, executor):
        """Export-only (no API key): every original of the media zips into photostream/, each
        .metadata from its photo_<id>.json, the account files.  files: photo id -> media
        file name of what the mirror holds, updated.  Never deletes a photo; what is held as
        the export has it is not written again.  Returns the albums, [(record, [ids])] in
        albums.json's order."""
        self.listed = None
        run_bounded(1, [('export', self._import_alone, dest, files, args, executor)],
                    lambda key, future: future.result(), self.stop_event)
        return self.albums

    def _import_alone(self, dest, files, args, executor):
        self._run(dest, files, args, executor, 'Making the mirror from Flickr\'s data export', self._after_media)

    def _after_media(self):
        self.without_media = {}   # photo id -> what became of it
        for pid in sorted(set(self.photo_jsons) - self.seen):   # no media file in this export
            name = self.files.get(pid)
            photo_json = self._photo_json(pid)
            if name:
                self.without_media[pid] = 'held in the mirror as %s' % name
                if not self.older:
                    self._keep_photo_json(name, read_json(metadata_path_for(self.dir, name)), photo_json)
                continue
            self.counts.no_media += 1
            self.without_media[pid] = self._fetch_original(pid, photo_json)
        for pid in sorted(set(self.photo_jsons) - set(self.files)):
            if self.wanted('photo') and self.wanted('video'):   # (what --ignore-* leaves out is not known)
                self.stats.failed += 1   # a run with the missing media (or the network) mends it
                self.reporter.error('photo %s (%s) has no file: %s' % (pid, self._photo_page(pid), self.without_media.get(
                    pid) or '; '.join(why for _, why in self.refused.get(pid, [])) or 'no media file'))
        self.albums = self._export_albums()
        if self.older:
            self.albums = self._albums_held(self.albums)

    def _albums_held(self, albums):
        """An older export's albums: each the mirror holds as the newer export left it (its
        record, its photos), in the older one's order, then the mirror's others; an album
        only the older export has fills in."""
        albums_dir = os.path.join(self.dest, ALBUMS_DIR)
        held = {}
        for aid, name in dirs_by_id(albums_dir, ALBUM_NAME_RE).items():
            stored = as_dict(read_json(os.path.join(albums_dir, name, DIR_METADATA_NAME)))
            if isinstance(stored.get('photoset'), dict) and isinstance(stored.get('photos'), list):
                held[aid] = (stored['photoset'], [as_scalar(p) for p in stored['photos']])
        kept = [held.pop(album['id'], (album, ids)) for album, ids in albums]
        return kept + [held[aid] for aid in sorted(held)]

    def _fetch_original(self, pid, photo_json):
        """The original from the 'original' address of its photo_<id>.json: a plain file
        request (no API, no key), paced, retried and checked as every download.  Returns what
        became of it, for the report."""
        url = export_original_url(photo_json)
        if url is None:
            return 'not fetched: its photo_%s.json gives no original address on Flickr\'s image servers' % pid
        if pid in self.videos:   # its 'original' address serves a still frame, not the video
            return ('not fetched: a video, whose original address (%s) gives only a still frame; a run with an '
                    'API key fetches the video' % url)
        if self.executor.downloader is None:
            return 'not fetched (%s): --offline' % url
        if self.refused_in_a_row >= REFUSALS_TO_STOP:
            return ('not fetched (%s): the image servers refused the last %d originals asked for (a free '
                    'account\'s limit?)' % (url, self.refused_in_a_row))
        ext = EXPORT_ORIGINAL_URL_RE.search(url).group(3).lower()
        name = '%s.%s' % (pid, SAME_FORMAT.get(ext, ext))
        # A 403 here is final: the image servers refuse a free account's originals over 1024 px,
        # and retrying each through a CDN burst's patience took minutes a photo; the photo is
        # named and the next run asks again.
        choice = Choice(ORIGINAL, url, 'image', cdn_bursts=False)
        try:
            _, size, digest = self.executor.apply(Download(
                PHOTOSTREAM_DIR, choice, lambda response: name, note='the original of photo %s' % pid,
                check=MediaCheck(ext, False), tally=('new',)))
        except (TransientError, ItemError, OriginalRefused, MediaRefused) as e:
            self.refused_in_a_row += 1   # said once, with the photo's page, by the run's error for it
            return 'not fetched: %s' % first_line(e)
        self.refused_in_a_row = 0
        self.counts.fetched += 1
        self.counts.no_media -= 1   # it is in the mirror now
        info = {'name': name, 'size': size, 'sha256': digest, 'label': ORIGINAL, 'original': True,
                'source': EXPORT_ORIGINAL_SOURCE, 'url': url}
        metadata = {'flickrmirrorer': {'format': PHOTO_METADATA_FORMAT, 'enriched': None}, 'file': info,
                    EXPORT_KEY: photo_json}
        self.executor.run([SetTime(os.path.join(PHOTOSTREAM_DIR, name), export_taken(photo_json))] + rewrite(
            self.dest, WriteMetadata, metadata_path_for(PHOTOSTREAM_DIR, name), json_bytes(metadata)))
        self.files[pid] = name
        return 'fetched from %s' % url

    def _import_found(self, member, pid, ext):
        video = ext in VIDEO_FILE_EXTENSIONS
        if not self.wanted('video' if video else 'photo'):
            self.counts.ignored += 1
            self.seen.add(pid)
            return None
        if pid in self.seen:
            return self._unmatched(member, 'a second file for %s %s (the first was taken)' % (
                'video' if video else 'photo', pid))
        photo_json = self._photo_json(pid)
        if photo_json is None:   # its photo_<id>.json is there but unreadable: the media is kept
            source, json_name = self.photo_jsons[pid]
            self._failed('%s in %s cannot be read: photo %s is kept without its metadata' % (
                json_name, source.label, pid))
            photo_json = {'id': pid}
        old_name = self.files.get(pid)
        raw = read_json(metadata_path_for(self.dir, old_name)) if old_name else None
        stored = Photo.from_metadata(raw, texts=False)
        if stored is not None and held_original(self.dir, old_name, stored.file) and (self.older or not (
                stored.originalsecret and export_replaced({'originalsecret': stored.originalsecret}, photo_json))):
            self.counts.held += 1
            self.seen.add(pid)
            if not self.older:
                self._keep_photo_json(old_name, raw, photo_json)
            return None
        name = '%s.%s' % (pid, SAME_FORMAT.get(ext, ext))

        def metadata_of(info):
            if stored is not None and stored.listing:   # a mirror the API made: its listing and getInfo stay
                metadata = build_photo_metadata(stored.listing, info, stored)
            else:
                metadata = {'flickrmirrorer': {'format': PHOTO_METADATA_FORMAT, 'enriched': None}, 'file': info}
            metadata[EXPORT_KEY] = photo_json
            return metadata
        tally = ('updated',) if old_name else ('new', 'new_videos') if video else ('new',)
        self._take(member, pid, ext, name, old_name, {'media': 'video' if video else 'photo'},
                   export_taken(photo_json), metadata_of, tally)
        return None

    def _export_albums(self):
        """albums.json's albums, in its order, as album records the trees and views read:
        [(record, [photo ids in album order])]."""
        for source in self.metadata:
            data = self._read_json(source, next((m for m in source.open().members()
                                                 if m.base == 'albums.json' and not unsafe_member(m)), None)
                                   or 'albums.json')
            if data is None:
                continue
            albums = []
            for album in as_list(as_dict(data).get('albums')):
                album = as_dict(album)
                aid = as_scalar(album.get('id'))
                if not valid_id(aid, ALBUM_ID_RE) or SYNTHETIC_ALBUM_RE.match(text_of(album.get('title')).strip()):
                    continue   # it names a directory; Flickr's "not in an album N" is in 'Not in any album'
                # "0" and ids the export describes no photo of are no photos
                ids = [as_scalar(p) for p in as_list(album.get('photos'))
                       if valid_id(as_scalar(p)) and (as_scalar(p) in self.photo_jsons or as_scalar(p) in self.files)]
                cover = re.search(r'/(\d+)/?$', text_of(album.get('cover_photo')))
                record = {'id': aid, 'title': {'_content': text_of(album.get('title'))},
                          'description': {'_content': text_of(album.get('description'))},
                          'primary': cover.group(1) if cover else (ids[0] if ids else None),
                          EXPORT_KEY: album}
                albums.append((record, list(dict.fromkeys(ids))))
            return albums
        return []


def read_member(src, member, n):
    """Up to n bytes of an export member; a damaged or unreadable one is an ExportReadError."""
    try:
        return src.read(n)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
        raise ExportReadError('%s is damaged: %s' % (member.where, first_line(e))) from None
    except OSError as e:
        raise ExportReadError('%s cannot be read: %s' % (member.where, e.strerror or e)) from None


def copy_member(src, f, head, member, stop_event, check=None):
    """Copy an export member to `f` after its first bytes `head`; (size, sha256).  Its
    declared size is checked: a damaged zip never gives a short file.  `check`, a
    MediaCheck, sees every byte and may refuse the file (MediaRefused)."""
    if check is not None:
        check.declared(member.size)
        check.feed(head)
    sha = hashlib.sha256(head)
    f.write(head)
    size = len(head)
    while True:
        if stop_event.is_set():
            raise KeyboardInterrupt
        chunk = read_member(src, member, DOWNLOAD_CHUNK)
        if not chunk:
            break
        if check is not None:
            check.feed(chunk)
        f.write(chunk)
        sha.update(chunk)
        size += len(chunk)
        if size > member.size:
            break
    if size != member.size:
        raise ExportReadError('%s holds %d bytes, not the %d declared: damaged' % (member.where, size, member.size))
    if size == 0:
        raise ExportReadError('%s is empty' % member.where)
    if check is not None:
        check.finish()
    return size, sha.hexdigest()


def account_file_actions(metadata_sources, dest, reporter, failed):
    """The newest metadata zip's account-level files, verbatim, into dest/account/ (an
    older export never replaces a newer one; the HTML view shows them as html/account.html):
    the actions, each yielded as its content is known.  failed(message): a member that
    cannot be read."""
    newest = None
    for source in metadata_sources:
        try:
            members = [m for m in source.open().members() if EXPORT_ACCOUNT_FILE_RE.match(m.base)
                       and not EXPORT_PHOTO_JSON_RE.match(m.base) and not unsafe_member(m)]
            # beside account_profile.json (the export unzipped may hold it in a folder)
            home = next((m.name[:-len(m.base)] for m in members if m.base == 'account_profile.json'), '')
            members = [m for m in members if m.name == home + m.base]
            date = source.date(members)
        except ExportReadError:
            continue   # said when it was surveyed
        finally:
            source.close()
        if members and (newest is None or date >= newest[2]):
            newest = (source, members, date)
    if newest is None:
        return
    source, members, date = newest
    account_dir = os.path.join(dest, ACCOUNT_DIR)
    stamp = as_dict(read_json(os.path.join(account_dir, ACCOUNT_STAMP)))
    if as_scalar(stamp.get('date')) > date:
        reporter.info('%s keeps the newer export of %s; %s (%s) is older: its account files are '
                      'not used.' % (account_dir, stamp.get('date'), source.label, date))
        return
    if not os.path.isdir(account_dir):
        yield MakeDir(ACCOUNT_DIR)
    try:
        source.open()
        for member in members:
            try:
                with source.reader(member) as src:
                    data = b''.join(iter(lambda: read_member(src, member, DOWNLOAD_CHUNK), b''))
            except ExportReadError as e:
                failed(str(e))
                continue
            yield from rewrite(dest, WriteFile, os.path.join(ACCOUNT_DIR, member.base), data)
    finally:
        source.close()
    names = {m.base for m in members}
    for name in sorted(os.listdir(account_dir)) if os.path.isdir(account_dir) else ():
        if EXPORT_ACCOUNT_FILE_RE.match(name) and name not in names:
            yield Delete(os.path.join(ACCOUNT_DIR, name))   # from an older export
    yield from rewrite(dest, WriteFile, os.path.join(ACCOUNT_DIR, ACCOUNT_STAMP),
                       json_bytes({'zip': source.name, 'date': date}))


# ---------------------------------------------------------------------------
# Albums, "Not in any album" and collections: directories of relative symlinks
# ---------------------------------------------------------------------------

def plan_links(dest, source, directory, wanted, reporter, keep=(DIR_METADATA_NAME,), remove=True):
    """The actions that make `directory` hold exactly the symlinks in `wanted` (name -> target),
    read from `source`, where its content is until the plan is applied (both relative to
    dest).  Our other links go (unless not `remove`); files and directories we did not make
    stay (and are reported).  `source` is read at once, the actions made as they are asked
    for: 'Not in any album' of a first mirror holds a link for nearly every photo."""
    try:
        with os.scandir(os.path.join(dest, source)) as scan:
            entries = {entry.name: (entry.is_symlink() and os.readlink(entry.path),
                                    entry.is_file(follow_symlinks=False)) for entry in scan}
    except FileNotFoundError:   # a directory the plan makes
        entries = {}
    return link_actions(dest, directory, wanted, entries, reporter, keep, remove)


def link_actions(dest, directory, wanted, entries, reporter, keep, remove):
    """plan_links' actions; `entries`: name -> (its target when a link, else False; a file?)."""
    for name, (target, is_file) in entries.items() if remove else ():
        if name in wanted or name in keep:
            continue
        if target:
            yield Unlink(os.path.join(directory, name))
        elif is_file and not name.startswith(TMP_PREFIX):
            reporter.detail('Leaving %s alone: %s did not make it' % (os.path.join(dest, directory, name),
                                                                     program_name()))
    for name, target in wanted.items():
        held = entries.get(name)
        if held is None or held[0] and held[0] != target:
            yield Link(os.path.join(directory, name), target)
        elif not held[0]:
            reporter.warning('%s is in the way of a link; left it alone' % os.path.join(dest, directory, name))


def plan_metadata(dest, source, directory, data):
    """The action that writes a directory's metadata when its content changes (none when
    it is the same)."""
    data = json_bytes(data)
    try:
        with open(os.path.join(dest, source, DIR_METADATA_NAME), 'rb') as f:
            if f.read() == data:
                return []
    except OSError:
        pass
    return [WriteMetadata(os.path.join(directory, DIR_METADATA_NAME), data)]


def kept_comments(stored):
    """What an album's metadata keeps of its comments from one run to the next: the comments
    and the count they were read at ({} when never read)."""
    stored = as_dict(stored)
    read_at = as_dict(stored.get('flickrmirrorer')).get('comments_of')
    if read_at is None:
        return {}
    return {'comments': as_list(stored.get('comments')),
            'flickrmirrorer': {'format': METADATA_FORMAT, 'comments_of': read_at}}


def counted(actions, counter_new, counter_updated, old_name, name):
    """An item's actions, the first counting it: new (it had no directory) or updated (a
    directory it had changes); an item without actions is unchanged."""
    if actions:
        actions[0] = dataclasses.replace(actions[0], counts=(counter_updated if old_name else counter_new, name))
    return actions


def album_link_names(photo_ids, files):
    """Album member links, numbered in album order: '01_12345.jpg' -> photostream file; one
    link per photo, however often a listing gave it."""
    present = [files[p] for p in dict.fromkeys(photo_ids) if files.get(p)]
    digits = len(str(len(present)))
    return [('%s_%s' % (str(i + 1).zfill(digits), name), name) for i, name in enumerate(present)]


class TreeBuilder:
    """Plans Albums/, 'Not in any album/' and Collections/ from the listings; the executor
    applies the plan (a dry run's prints it)."""

    def __init__(self, dest, client, stats, reporter, executor):
        self.dest = dest
        self.albums_dir = os.path.join(dest, ALBUMS_DIR)
        self.collections_dir = os.path.join(dest, COLLECTIONS_DIR)
        self.client = client
        self.stats = stats
        self.reporter = reporter
        self.executor = executor
        self.album_dir_names = {}   # album id -> directory name under Albums/
        self.incomplete = []        # albums (or the album list) Flickr did not list in full
        self.partial_albums = set() # ids of albums whose photo list is short: no link is dropped
        self.comments = {}          # album id -> its comments as last read (AccountLists reads them)
        self.kept_orders = {}       # ... and their last complete order, which stays until a complete one
        self.album_list_complete = True

    def _own_dir(self, directory):
        """A directory the mirror owns (relative to dest), made when missing.  A symlink in
        its place may lead out of the mirror: never write or delete through it; warn, leave
        it, go on (exit status 1)."""
        path = os.path.join(self.dest, directory)
        if os.path.islink(path):
            self._left_alone(path)
            return False
        if not os.path.isdir(path):
            self.executor.apply(MakeDir(directory))
        return True

    def _place(self, source_parent, parent, old_name, name):
        """(actions, source): the actions that put an item's directory at parent/name (renamed
        when its title changed, made when new), and the directory that holds its content until
        they are applied; `source_parent` is where `parent`'s content is until then.  None
        when a symlink is in the way."""
        wanted, now = os.path.join(parent, name), os.path.join(self.dest, source_parent, name)
        if os.path.islink(now):
            return None
        if old_name and old_name != name:
            actions = [RemoveDir(wanted)] if os.path.lexists(now) else []
            return actions + [RenameDir(os.path.join(parent, old_name), wanted)], os.path.join(source_parent,
                                                                                              old_name)
        return ([] if os.path.isdir(now) else [MakeDir(wanted)]), os.path.join(source_parent, name)

    def refused(self, kind, item_id):
        self.stats.failed += 1
        self.reporter.error('could not mirror %s %s: Flickr listed it with an id that is not a number; refused'
                            % (kind, shown_id(item_id)))

    def _left_alone(self, path):
        self.stats.dirs_left_alone += 1
        self.reporter.warning("'%s' is a symbolic link; %s does not write or delete through "
                              "it.  Left it alone: move it away to let the mirror rebuild it." % (path, program_name()))

    # -- albums --
    def list_albums(self):
        """[(album record, [photo ids in order])]; photosets.getPhotos only for albums that
        changed since the last run (their date_update tells)."""
        existing = dirs_by_id(self.albums_dir, ALBUM_NAME_RE)
        result = []
        check = ListingCheck()
        for album in self.client.albums(check):
            if not valid_id(as_dict(album).get('id'), ALBUM_ID_RE):   # it names a directory
                self.refused('album', as_dict(album).get('id'))
                continue
            album = strip_volatile(album)
            stored = None
            if album['id'] in existing:
                stored = read_json(os.path.join(self.albums_dir, existing[album['id']], DIR_METADATA_NAME))
            self.comments[album['id']] = kept_comments(stored)
            photo_ids = stored_album_order(stored, album)
            if photo_ids is None:
                try:
                    photo_ids = self.read_album(album)
                except NotFoundError:   # deleted on Flickr while we were listing
                    continue
                if album['id'] in self.partial_albums and last_album_order(stored) is not None:
                    self.kept_orders[album['id']] = last_album_order(stored)
            result.append((album, photo_ids))
        problem = check.problem(len(result), 'albums')
        if problem:
            self.album_list_complete = False
            self.incomplete.append(problem)
        return result

    def read_album(self, album):
        """An album's photo ids; checked against the album's own photo and video counts."""
        check = ListingCheck()
        listed = self.client.album_photo_ids(album['id'], check)
        photo_ids = list(dict.fromkeys(listed))   # a photo twice (pages shifted while read): once
        expected = to_int(album.get('photos')) + to_int(album.get('videos'))
        seen = len(photo_ids)
        if seen != len(listed):
            check.short_pages += 1   # a repeat means another photo was skipped
        problem = check.problem(seen, 'photos') or (
            '%d of %d photos seen' % (seen, expected) if seen != expected else None)
        if problem:
            self.partial_albums.add(album['id'])
            self.incomplete.append('album "%s": %s' % (text_of(album.get('title')), problem))
        return photo_ids

    def build_albums(self, albums, files):
        if not self._own_dir(ALBUMS_DIR):
            return
        existing = dirs_by_id(self.albums_dir, ALBUM_NAME_RE)
        for album, photo_ids in albums:
            title = text_of(album.get('title'))
            name = safe_name(title, album['id'])
            self.album_dir_names[album['id']] = name
            old_name = existing.pop(album['id'], None)
            try:
                self._build_album(album, photo_ids, files, old_name, name)
            except LinkInTheWay as e:
                part_stopped(e, self.stats, self.reporter)
        for stale in existing.values() if self.album_list_complete else ():   # deleted on Flickr
            self.executor.apply(RemoveDir(os.path.join(ALBUMS_DIR, stale),
                                          counts=('albums_deleted', '%s (no longer on Flickr)' % stale)))

    def _build_album(self, album, photo_ids, files, old_name, name):
        """One album's directory: its links in album order and its metadata."""
        placed = self._place(ALBUMS_DIR, ALBUMS_DIR, old_name, name)
        if placed is None:
            self._left_alone(os.path.join(self.albums_dir, name))
            return
        actions, source = placed
        path = os.path.join(ALBUMS_DIR, name)
        if album['id'] in self.kept_orders:   # listed short: the last complete order stays
            photo_ids = self.kept_orders[album['id']]
        wanted = {link: os.path.join('..', '..', PHOTOSTREAM_DIR, target)
                  for link, target in album_link_names(photo_ids, files)}
        if album['id'] in self.partial_albums:
            # a short listing never drops links, and its metadata is not stored, so that
            # the next run reads the album again
            actions += plan_links(self.dest, source, path, wanted, self.reporter, remove=False)
            self.reporter.detail('Album %s was listed short; kept its links' % name)
        else:
            actions += plan_links(self.dest, source, path, wanted, self.reporter)
            metadata = dict({'flickrmirrorer': {'format': METADATA_FORMAT}, 'photoset': album, 'photos': photo_ids},
                            **self.comments.get(album['id'], {}))
            actions += plan_metadata(self.dest, source, path, metadata)
        self.executor.run(counted(actions, 'albums_new', 'albums_updated', old_name, name))

    def build_not_in_album(self, photostream_ids, albums, files, keep_others=False):
        """After an incomplete listing (keep_others) links are added, never dropped."""
        in_albums = set()
        for _, photo_ids in albums:
            in_albums.update(photo_ids)
        if not self._own_dir(NOT_IN_ALBUM_DIR):
            return
        wanted = {files[p]: os.path.join('..', PHOTOSTREAM_DIR, files[p])
                  for p in photostream_ids if p not in in_albums and files.get(p)}
        self.executor.run(plan_links(self.dest, NOT_IN_ALBUM_DIR, NOT_IN_ALBUM_DIR, wanted, self.reporter,
                                     keep=(), remove=not keep_others))

    # -- collections --
    def build_collections(self, tree):
        """The whole tree is planned from the destination as it is, then applied."""
        if self._own_dir(COLLECTIONS_DIR):
            self.executor.run(self._plan_collection_level(COLLECTIONS_DIR, COLLECTIONS_DIR, tree, depth=1))

    def _plan_collection_level(self, source_parent, parent, collections, depth):
        """The actions for the collections under `parent`, whose content is in `source_parent`
        until the plan is applied."""
        existing = dirs_by_id(os.path.join(self.dest, source_parent), COLLECTION_NAME_RE)
        plan = []
        for collection in collections:
            if not valid_id(as_dict(collection).get('id'), COLLECTION_ID_RE):
                self.refused('collection', as_dict(collection).get('id'))
                continue
            name = safe_name(text_of(collection.get('title')), collection['id'])
            old_name = existing.pop(collection['id'], None)
            placed = self._place(source_parent, parent, old_name, name)
            if placed is None:
                self._left_alone(os.path.join(self.dest, source_parent, name))
                continue
            actions, source = placed
            path = os.path.join(parent, name)
            children = []
            links = {}
            for album in collection.get('set') or []:
                if not valid_id(as_dict(album).get('id'), ALBUM_ID_RE):
                    continue
                album_name = self.album_dir_names.get(album['id']) or safe_name(text_of(album.get('title')), album['id'])
                links[album_name] = os.path.join(*(['..'] * (depth + 1)), ALBUMS_DIR, album_name)
                children.append({'type': 'album', 'id': album['id'], 'title': text_of(album.get('title'))})
            for sub in collection.get('collection') or []:
                children.append({'type': 'collection', 'id': sub['id'], 'title': text_of(sub.get('title'))})
            actions += plan_links(self.dest, source, path, links, self.reporter)
            record = {k: v for k, v in collection.items() if k not in ('set', 'collection')}
            metadata = {'flickrmirrorer': {'format': METADATA_FORMAT}, 'collection': record, 'children': children}
            actions += plan_metadata(self.dest, source, path, metadata)
            plan += counted(actions, 'collections_new', 'collections_updated', old_name, name)
            plan += self._plan_collection_level(source, path, collection.get('collection') or [], depth + 1)
        for stale in existing.values():
            plan.append(RemoveDir(os.path.join(parent, stale),
                                  counts=('collections_deleted', '%s (no longer on Flickr)' % stale)))
        return plan


def last_album_order(stored):
    """The photo order an album's metadata holds (written only after a complete listing)."""
    if not isinstance(stored, dict) or not isinstance(stored.get('photos'), list):
        return None
    return [str(p) for p in stored['photos']]


def stored_album_order(stored, album):
    """The album's photo order from the last run, if the album has not changed since."""
    if not isinstance(stored, dict) or not isinstance(stored.get('photos'), list):
        return None
    old = stored.get('photoset') or stored   # the original flickrmirrorer stored the record itself
    if not isinstance(old, dict):
        return None
    if str(old.get('date_update')) != str(album.get('date_update')):
        return None
    count = to_int(album.get('photos')) + to_int(album.get('videos'))
    if count != len(stored['photos']):
        return None
    return [str(p) for p in stored['photos']]


# -- tidy: local photos no longer on Flickr

class Tidier:
    """Local photos the listing did not show.  Kept unless --delete-unknown, and then only
    after a complete listing, capped: a check on the plan, the dry run's too."""

    def __init__(self, args, state, executor, stats, reporter):
        self.args = args
        self.state = state
        self.executor = executor
        self.stats = stats
        self.reporter = reporter
        self.dir = state.photostream_dir

    def photostream(self, gone_files, local_count):
        """gone_files: photo id -> file name of the local photos the listing did not show;
        local_count: how many local photos there are in all."""
        gone = sorted(gone_files)
        if not gone or self.state.incomplete:
            return   # after an incomplete listing they stay in the trees; nothing is deleted
        if not self.args.delete_unknown:
            self.reporter.info(('%s is no longer on Flickr; it is kept (use --delete-unknown to remove it).'
                                if len(gone) == 1 else '%s are no longer on Flickr; they are kept (use '
                                '--delete-unknown to remove them).') % plural(len(gone), 'local photo'))
            return
        limit = max(DELETE_COUNT_FLOOR, int(local_count * DELETE_SHARE_LIMIT))
        if len(gone) > limit and not self.args.force:
            for pid in gone:
                self.reporter.prompt('would delete: %s' % os.path.join(PHOTOSTREAM_DIR, gone_files[pid]))
            raise FatalError('Refusing to delete %d of %d local photos (more than %d) in one run; check the '
                             'list above and run again with --force if it is right.' % (len(gone), local_count, limit))
        for pid in gone:
            self.executor.run(self._delete_photo(gone_files[pid]))

    def _delete_photo(self, name):
        """The photo's file, counted, and its metadata and sidecar where they are."""
        path = os.path.join(PHOTOSTREAM_DIR, name)
        yield Delete(path, 'no longer on Flickr', counts=('deleted', path))
        for beside in metadata_path_for(PHOTOSTREAM_DIR, name), xmp_path_for(PHOTOSTREAM_DIR, name):
            if os.path.lexists(os.path.join(self.state.dest, beside)):
                yield Delete(beside)

    def orphaned_metadata(self, orphaned_metadata):
        """A .metadata whose media file is gone and whose photo is no longer on Flickr: what a
        run killed inside --delete-unknown leaves.  --delete-unknown removes it, --verify names it."""
        if self.state.incomplete:
            return   # an unseen photo may still be on Flickr
        listed = {p.id for p in self.state.photostream}
        names = sorted(name for pid, name in orphaned_metadata.items() if pid not in listed)
        for name in names:
            path = os.path.join(PHOTOSTREAM_DIR, name)
            if self.args.delete_unknown:
                self.executor.apply(Delete(path, 'its photo is gone from Flickr and from the mirror'))
            else:
                self.reporter.warning('%s describes a photo that is gone from Flickr and from the mirror; '
                                      '--delete-unknown removes it' % path)


# ---------------------------------------------------------------------------
# Galleries, groups and album comments: read after the photos' metadata, within the budget
# ---------------------------------------------------------------------------
# Each list is one call a run (galleries.getList, people.getGroups); a gallery's photos are
# read again only when its date_update or count_total moved (adding or removing a photo moves
# them), a group's photos of yours only when its pool_count moved (anyone's post moves it), an
# album's comments only when getList's count_comments moved from the count they were read at
# (a comment moves no date).  An unchanged re-run so makes two calls here.

GALLERIES_FILE = 'galleries.json'
GROUPS_FILE = 'groups.json'


def read_kept(dest, name, key, kind):
    """The entries of a galleries.json / groups.json by id ({} when missing or damaged)."""
    kept = as_dict(read_json(os.path.join(dest, name)))
    return {as_dict(entry.get(kind)).get('id'): entry for entry in as_list(kept.get(key))
            if isinstance(entry, dict)}


def gallery_unchanged(kept, gallery):
    old = as_dict(as_dict(kept).get('gallery'))
    return bool(old) and all(old.get(k) == gallery.get(k) for k in ('date_update', 'count_total'))


def pool_unchanged(kept, group):
    return as_dict(as_dict(kept).get('group')).get('pool_count') == group.get('pool_count') \
        and isinstance(as_dict(kept).get('photo_ids'), list)


def comments_to_read(stored, album):
    """None when the album's stored comments are current, else how many Flickr counts."""
    count = to_int(album.get('count_comments'))
    read_at = as_dict(stored.get('flickrmirrorer')).get('comments_of')
    if count == 0:
        return None if not stored.get('comments') else 0
    return None if read_at == str(count) else count


class AccountLists:
    """Reads your galleries, the groups you are in and your albums' comments, and writes
    galleries.json, groups.json and the albums' metadata through the executor (a dry run
    names them).  Runs after the photos' metadata, so that a tight budget reads photos first."""

    def __init__(self, dest, client, account, albums, album_dirs, executor, stats, reporter):
        self.dest, self.client, self.account = dest, client, account
        self.albums, self.album_dirs = albums, album_dirs
        self.executor, self.stats, self.reporter = executor, stats, reporter
        self.changed = False

    def run(self):
        """Returns True when it changed a file the views read."""
        for what, read in (('galleries', self.galleries), ('groups', self.groups),
                           ('albums\' comments', self.album_comments)):
            try:
                read()
            except QuotaSpent:
                return self.changed   # said by the enrichment's line; the next run reads them
            except (ItemError, TransientError) as e:
                self.stats.extras_failed += 1
                self.reporter.error('Could not read your %s: %s; the last ones read stay, and the next run tries '
                                    'again.' % (what, first_line(e)))
        return self.changed

    def galleries(self):
        kept = read_kept(self.dest, GALLERIES_FILE, 'galleries', 'gallery')
        check, entries = ListingCheck(), []
        for gallery in self.client.galleries(self.account, check):
            gallery = strip_volatile(as_dict(gallery))
            if not gallery.get('id'):
                continue
            old = kept.get(gallery['id'])
            photos = old['photos'] if gallery_unchanged(old, gallery) else self.gallery_photos(gallery, old)
            entries.append({'gallery': gallery, 'photos': photos})
        if check.problem(len(entries), 'galleries') is None:
            self._write(GALLERIES_FILE, {'galleries': entries})

    def gallery_photos(self, gallery, old):
        """A gallery's photos; one listed short keeps the ones read before, and its
        date_update is not stored, so that the next run reads it again."""
        check = ListingCheck()
        photos = [strip_volatile(as_dict(p)) for p in self.client.gallery_photos(gallery['id'], check)]
        if check.problem(len(photos), 'photos'):
            gallery['date_update'] = as_dict(as_dict(old).get('gallery')).get('date_update')
            return as_dict(old).get('photos') or photos
        return photos

    def groups(self):
        """groups.json: each group with the ids of your photos in its pool, newest post first
        (ids alone: an account that posts every photo somewhere has 100,000 of them)."""
        kept = read_kept(self.dest, GROUPS_FILE, 'groups', 'group')
        entries = []
        for group in map(as_dict, self.client.groups(self.account)):
            if not group.get('nsid'):
                continue
            group = dict(group, id=group['nsid'])
            old = kept.get(group['id'])
            if pool_unchanged(old, group):
                entries.append(old if old.get('group') == group else {'group': group, 'photo_ids': old['photo_ids']})
                continue
            photo_ids = [as_scalar(p.get('id')) for p in map(as_dict, self.client.pool_photos(
                group['id'], self.account, ListingCheck())) if valid_id(p.get('id'))]
            entries.append({'group': group, 'photo_ids': photo_ids})
        if len(entries) != len(kept) or any(entry is not kept.get(entry['group']['id']) for entry in entries):
            self._write(GROUPS_FILE, {'groups': entries})   # (unchanged, it is not serialized to be compared)

    def album_comments(self):
        for album, _photo_ids in self.albums:
            name = self.album_dirs.get(album['id'])
            path = os.path.join(ALBUMS_DIR, name or '', DIR_METADATA_NAME)
            stored = as_dict(read_json(os.path.join(self.dest, path))) if name else {}
            count = comments_to_read(stored, album) if stored else None
            if count is None:   # current, or an album whose metadata is not stored (listed short)
                continue
            comments = [as_dict(c) for c in self.client.album_comments(album['id'])] if count else []
            metadata = dict(stored, comments=comments, flickrmirrorer=dict(
                as_dict(stored.get('flickrmirrorer')), comments_of=str(count)))
            if not count:
                del metadata['comments'], metadata['flickrmirrorer']['comments_of']
            self._write(path, metadata)

    def _write(self, name, body):
        data = json_bytes(dict(body, flickrmirrorer=as_dict(body.get('flickrmirrorer')) or {'format': METADATA_FORMAT}))
        changed = rewrite(self.dest, WriteMetadata, name, data)
        self.executor.run(changed)
        self.changed = self.changed or bool(changed)


# ---------------------------------------------------------------------------
# The executor: the one place that changes the destination
# ---------------------------------------------------------------------------
# Planners read Flickr's listing and the destination as it is and yield actions, each naming
# its paths relative to the destination; they change nothing.  The Executor applies them
# (or, in a dry run, prints them one a line, "would VERB: PATH") and counts each one the same
# way in both, so a dry run's counts are the real run's.  An action's `counts` names the
# statistic it adds one to and what that is about: (counter, name); a file's `tally`, the
# statistics it adds one to once it is in place.  What only a fetch can tell (a refused
# original, a video's name) is told by the Download's answer, printed when it comes.

class Executor:
    """The one place that applies the plan's actions to the destination (each path through
    the guard: inside it, through no link) and counts them.  A dry run's executor prints
    them instead and counts them alike."""

    def __init__(self, dest, stats=None, reporter=None, dry=False, downloader=None, thumbnails=None):
        self.dest = dest
        self.stats = stats if stats is not None else Stats()
        self.reporter = reporter if reporter is not None else Reporter(quiet=True)
        self.dry = dry
        self.downloader = downloader   # fetches a Download's file (a Downloader)
        self.thumbnails = thumbnails   # fetches a thumbnail (a ThumbnailFetcher)
        self._lock = threading.Lock()   # the files stage applies its actions from many threads
        # A dry run's destination as the actions printed so far would leave it, for the
        # planners that come after them (the views read the metadata the files stage wrote):
        # the metadata it would write (full path -> content), the files it would bring, the
        # paths it would remove.
        self.would_write, self.would_bring, self.would_remove = {}, set(), set()

    def run(self, actions):
        for action in actions:
            self.apply(action)

    def apply(self, action):
        """Apply one action; returns what it tells (a download: its name, size and hash)."""
        if action.counts:
            self._count(*action.counts)
        kind = type(action).__name__
        if self.dry:
            predict = getattr(self, '_would_' + kind, None)
            if predict is not None:
                return predict(action)
            self._would(action.verb, action.line())
            self._foresee(action)
            return None
        return getattr(self, '_' + kind)(action)

    def _foresee(self, action):
        """Keep what a dry run's action would change, for has_file(), read_json() and stamp()."""
        full = os.path.normpath(os.path.join(self.dest, action.path))
        if isinstance(action, WriteMetadata):
            self.would_write[full] = action.data
        elif isinstance(action, (Delete, Unlink, RemoveDir)):
            self.would_remove.add(full)
            self.would_write.pop(full, None)
            self.would_bring.discard(full)
        elif isinstance(action, (Import, Adopt, WriteFile, WriteChunks, FetchThumbnail)):
            self.would_bring.add(full)
            if isinstance(action, Adopt):
                self.would_remove.add(os.path.normpath(os.path.join(self.dest, action.source)))

    # -- the destination as the planners after an action see it (a dry run's: as it would be)
    def has_file(self, path):
        if self.dry:
            path = os.path.normpath(path)
            if path in self.would_write or path in self.would_bring:
                return True
            if path in self.would_remove:
                return False
        return os.path.isfile(path)

    def read_json(self, path):
        if self.dry:
            path = os.path.normpath(path)
            if path in self.would_write:
                return json.loads(self.would_write[path].decode('utf-8'))
            if path in self.would_remove:
                return None
        return read_json(path)

    def names_in(self, directory):
        """The names in `directory` as the actions so far leave it (a dry run's: as they would)."""
        try:
            names = set(os.listdir(directory))
        except OSError:
            names = set()
        if self.dry:
            directory = os.path.normpath(directory)
            for path in self.would_write.keys() | self.would_bring:
                if os.path.dirname(path) == directory:
                    names.add(os.path.basename(path))
            names -= {os.path.basename(p) for p in self.would_remove if os.path.dirname(p) == directory}
        return sorted(names)

    def stamp(self, path):
        """file_stamp(path); a dry run's metadata it would write: one of its own, as a new
        file's stamp is (so that a view made from it is made again)."""
        if self.dry:
            path = os.path.normpath(path)
            if path in self.would_write:
                return 'would write', zlib.crc32(self.would_write[path])
            if path in self.would_remove:
                return None
        return file_stamp(path)

    def _would(self, verb, line):
        self.reporter.info('would %s: %s' % (verb, line))

    def _tally(self, counters, size=0):
        with self._lock:
            for counter in counters:
                setattr(self.stats, counter, getattr(self.stats, counter) + 1)
            self.stats.bytes += size

    def _count(self, counter, what):
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        words = COUNT_WORDS.get(counter)
        if words:
            self.reporter.info('would %s %s' % (words[1], what)) if self.dry else \
                self.reporter.detail('%s %s' % (words[0], what))

    def _done(self, action):
        self.reporter.detail('%s %s' % (action.did, action.line()))

    def _MakeDir(self, action):
        make_dirs(os.path.join(self.dest, action.path))
        self._done(action)

    def _RenameDir(self, action):
        os.rename(guarded(os.path.join(self.dest, action.path)), guarded(os.path.join(self.dest, action.new)))
        self._done(action)

    def _RemoveDir(self, action):
        path = os.path.join(self.dest, action.path)
        if remove_our_dir(path):
            self._done(action)
        else:
            self.reporter.warning('Kept %s: it holds files %s did not make' % (path, program_name()))

    def _Link(self, action):
        atomic_symlink(action.target, os.path.join(self.dest, action.path))
        self._done(action)

    def _Unlink(self, action):
        try_unlink(os.path.join(self.dest, action.path), link=True)
        self._done(action)

    def _Adopt(self, action):
        target = os.path.join(self.dest, action.path)
        os.replace(guarded(os.path.join(self.dest, action.source)), guarded(target))
        fsync_dir(os.path.dirname(target))
        self._tally(action.tally)
        self.reporter.info('Adopted %s as the original of %s' % (os.path.basename(action.source),
                                                               os.path.basename(action.path)))

    def _Download(self, action):
        directory = os.path.join(self.dest, action.path)
        name, size, digest = self.downloader.fetch(action.choice, directory, action.name_for, action.check)
        self._tally(action.tally, size)
        (self.reporter.info if action.loud else self.reporter.detail)('%s %s (%s%s)' % (
            'Updated' if action.replacing else 'Downloaded', name, human_bytes(size),
            ', ' + action.note if action.note else ''))
        return name, size, digest

    def _would_Download(self, action):
        """Only a video's answer tells whether Flickr gives it (and its name): a dry run asks
        for a video's file and reads none of its body; any other file it does not ask for."""
        name, size = self.downloader.probe(action.choice, action.name_for)
        self._tally(action.tally, size)
        path = os.path.join(action.path, name)
        self._would(action.verb, '%s <- %s%s' % (path, action.choice.url, ' (%s)' % action.note if action.note else ''))
        self.would_bring.add(os.path.normpath(os.path.join(self.dest, path)))
        return name, size, None

    def _FetchThumbnail(self, action):
        """True when the thumbnail is now in place (its directory synced with its batch's)."""
        return self.thumbnails.fetch(action.url, os.path.join(self.dest, action.path), action.batch)

    def _would_FetchThumbnail(self, action):
        self._would(action.verb, action.line())
        self._foresee(action)
        return True

    def _would_Adopt(self, action):
        self._tally(action.tally)
        self._would(action.verb, action.line())
        self._foresee(action)

    def _Import(self, action):
        size, digest = atomic_write(os.path.join(self.dest, action.path), action.copy)
        self._tally(action.tally)
        self.reporter.detail('Imported %s as %s (%s)' % (action.member.where, os.path.basename(action.path),
                                                        human_bytes(size)))
        return size, digest

    def _would_Import(self, action):
        """The member is not read: its size is the one its zip declares."""
        self._tally(action.tally)
        self._would(action.verb, action.line())
        self._foresee(action)
        return action.member.size, None

    def _WriteFile(self, action):
        atomic_write_bytes(os.path.join(self.dest, action.path), action.data, action.batch)
        self._done(action)

    def _WriteChunks(self, action):
        written = write_chunks_if_changed(os.path.join(self.dest, action.path), action.chunks, action.batch)
        if written:
            self._done(action)
        return written

    def _would_WriteChunks(self, action):
        path = os.path.join(self.dest, action.path)
        try:
            old = describe_file(guarded(path))['sha256']
        except OSError:
            old = None
        new = hashlib.sha256()
        for chunk in action.chunks:
            new.update(chunk)
        if new.hexdigest() == old:
            return False
        self._would(action.verb, action.line())
        self._foresee(action)
        return True

    def _SetTime(self, action):
        set_mtime(os.path.join(self.dest, action.path), action.when)   # said by the file's own line

    def _WriteMetadata(self, action):
        atomic_write_bytes(os.path.join(self.dest, action.path), action.data)
        self._done(action)

    def _Delete(self, action):
        try_unlink(os.path.join(self.dest, action.path))
        if action.reason:
            self.reporter.info('Deleted %s (%s)' % (action.path, action.reason))
        else:
            self._done(action)


# ---------------------------------------------------------------------------
# Views: XMP sidecars that other photo managers read
# ---------------------------------------------------------------------------
# Beside every media file, '<file>.xmp' (the 'photo.jpg.xmp' naming digiKam, darktable and
# Immich look for): title, description as text, tags, albums and collections as
# hierarchical keywords, date taken, GPS, license and the Flickr page.  Derived from the
# stored .metadata files alone (no API call), so an adopted or older mirror gets them on
# its next run; rewritten only when their content changes.  Originals are never touched.
XMP_HIERARCHY_ROOT = 'Flickr'
XMP_NAMESPACES = (
    ('dc', 'http://purl.org/dc/elements/1.1/'),
    ('digiKam', 'http://www.digikam.org/ns/1.0/'),
    ('exif', 'http://ns.adobe.com/exif/1.0/'),
    ('lr', 'http://ns.adobe.com/lightroom/1.0/'),
    ('photoshop', 'http://ns.adobe.com/photoshop/1.0/'),
    ('tiff', 'http://ns.adobe.com/tiff/1.0/'),
    ('xmpRights', 'http://ns.adobe.com/xap/1.0/rights/'),
)


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
    orientation: int = None                           # tiff:Orientation, where Flickr turns the photo
    people: list = field(default_factory=list)        # names of the people marked in the photo
    creator: str = ''                                 # set for a favourite: its owner
    rights: str = ''                                  # ... and its copyright line


IPTC_EXTENSION_NS = 'http://iptc.org/std/Iptc4xmpExt/2008-02-29/'
# Flickr's rotation (clockwise degrees) as the EXIF orientation that shows it so.
ORIENTATION_OF_ROTATION = {90: 6, 180: 3, 270: 8}


def xmp_fields(metadata, keyword_paths=(), own_orientation=lambda: None):
    """A sidecar's fields from a stored .metadata, through the one photo model.
    `own_orientation()`: the file's own EXIF orientation (asked only for a turned photo)."""
    photo = Photo.from_metadata(metadata) or Photo()
    fields = XmpFields(title=photo.title, description=html_to_text(photo.description), tags=list(photo.tags),
                       hierarchy=[list(p) for p in keyword_paths], latitude=photo.latitude,
                       longitude=photo.longitude, page_url=photo.url,
                       people=list(dict.fromkeys(p['name'] for p in photo.shown_people)))
    if photo.taken:
        fields.date_taken = date_at_granularity(photo.taken, photo.granularity)
    if photo.license in FLICKR_LICENSES:
        name, url = FLICKR_LICENSES[photo.license]
        fields.license = (name, url, photo.license not in PUBLIC_DOMAIN_LICENSES)
    # A photo turned on Flickr is shown turned by photo managers too, unless the file has an
    # orientation of its own: that one is the owner's, and stays (Flickr's is in .metadata).
    if photo.media == 'photo' and photo.rotation in ORIENTATION_OF_ROTATION and own_orientation() in (None, 1):
        fields.orientation = ORIENTATION_OF_ROTATION[photo.rotation]
    return fields


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
    if fields.people:   # declared only where used: every other sidecar stays as it was
        out.append('\n    xmlns:Iptc4xmpExt="%s"' % IPTC_EXTENSION_NS)
    simple = []
    if fields.date_taken:
        simple += [('exif:DateTimeOriginal', fields.date_taken), ('photoshop:DateCreated', fields.date_taken)]
    if fields.latitude is not None:
        simple += [('exif:GPSLatitude', xmp_coordinate(fields.latitude, 'N', 'S')),
                   ('exif:GPSLongitude', xmp_coordinate(fields.longitude, 'E', 'W')),
                   ('exif:GPSMapDatum', 'WGS-84'), ('exif:GPSVersionID', '2.2.0.0')]
    if fields.orientation:
        simple.append(('tiff:Orientation', str(fields.orientation)))
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
    if fields.creator:
        _xmp_list(out, 'dc:creator', 'Seq', [fields.creator])
    if fields.rights:
        _xmp_list(out, 'dc:rights', 'Alt', [fields.rights], lang=True)
    if fields.page_url:
        out.append('   <dc:source>%s</dc:source>\n' % xml_text(fields.page_url))
    if fields.license:
        _xmp_list(out, 'xmpRights:UsageTerms', 'Alt', [fields.license[0]], lang=True)
    if fields.tags:
        _xmp_list(out, 'dc:subject', 'Bag', fields.tags)
    if fields.people:   # IPTC Extension's "Person shown": digiKam and Lightroom read it
        _xmp_list(out, 'Iptc4xmpExt:PersonInImage', 'Bag', fields.people)
    # The tags again, as one-level paths: Immich reads its tags from digiKam:TagsList alone
    # when it is there, and digiKam and Lightroom list every keyword in these too.
    paths = [[tag] for tag in fields.tags] + fields.hierarchy
    if paths:
        _xmp_list(out, 'lr:hierarchicalSubject', 'Bag', [keyword_path(p, '|') for p in paths])
        _xmp_list(out, 'digiKam:TagsList', 'Seq', [keyword_path(p, '/') for p in paths])
    out.append('  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n')
    return valid_text(''.join(out)).encode('utf-8')


def write_xmp_sidecars(photostream_dir, files, albums, tree, executor=None):
    """Write '<file>.xmp' beside every media file of `files` ((photo id, file name) pairs, what
    the run holds) that has its .metadata, and remove our sidecars whose media file is gone.
    albums: [(album record, photo ids)]; tree: the collection tree; executor: what writes
    them (by default one of its own, its destination the folder above).  Returns (written,
    removed)."""
    photostream_dir = os.path.normpath(photostream_dir)
    executor = executor or Executor(os.path.dirname(photostream_dir))
    dest, rel_dir = executor.dest, os.path.basename(photostream_dir)
    by_id = album_keyword_paths(albums, tree)
    keyword_paths = [by_id[album['id']] for album, _ in albums]
    photo_albums = albums_by_photo(albums)
    written = removed = 0
    with SyncBatch() as dirs:
        for photo_id, filename in files:
            metadata = executor.read_json(metadata_path_for(photostream_dir, filename))
            if not isinstance(metadata, dict) or 'flickrmirrorer' not in metadata:
                continue   # not mirrored yet, or a legacy file that the next download upgrades
            paths = [p for n in packed_values(photo_albums.get(photo_id, ())) for p in keyword_paths[n]]
            packet = xmp_packet(xmp_fields(metadata, paths,
                                           lambda: image_orientation(os.path.join(photostream_dir, filename))))
            changed = rewrite(dest, WriteFile, xmp_path_for(rel_dir, filename), packet, batch=dirs)
            executor.run(changed)
            written += len(changed)
    del photo_albums
    if not os.path.isdir(photostream_dir):   # a dry run's new mirror
        return written, removed
    with os.scandir(photostream_dir) as entries:   # streamed: 300,000 names are not listed at once
        for entry in entries:
            media = entry.name[:-len(XMP_SUFFIX)]
            if entry.name.endswith(XMP_SUFFIX) and PHOTO_FILE_RE.match(media) \
                    and not executor.has_file(os.path.join(photostream_dir, media)) and executor.has_file(entry.path):
                executor.apply(Delete(os.path.join(rel_dir, entry.name)))
                removed += 1
    return written, removed


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
#     dest/html/photo-<id>.html         one photo: the original with its notes, its words, people, albums, comments
#     dest/html/search.html             search box; search.js over search-index.js
#     dest/html/tags.html               every tag (machine tags apart); tag-<name>-<hash>.html each
#     dest/html/places.html             country > region > locality; place-<name>-<hash>.html each
#     dest/html/archive.html            years and months taken; year-<y>.html, month-<y>-<m>.html
#     dest/html/map.html                a pin per placed photo on world.svg (Natural Earth)
#     dest/html/thumbs/<id>-<hash>.jpg  Flickr's 320-pixel size: grids never load originals
#     dest/html/thumbs/<id>-<hash>.own.jpg  ... or, where Flickr gives none, a preview of ours
#     dest/html/originals.json          what each original's EXIF says, read once per version

# -- the account page: contacts, followers, favourites and galleries, from dest/account/

def account_files_stamp(dest, executor):
    """What html/account.html is made from: the stamps of dest/account/'s files."""
    account_dir = os.path.join(dest, ACCOUNT_DIR)
    names = sorted(os.listdir(account_dir)) if os.path.isdir(account_dir) else []
    return [(name, executor.stamp(os.path.join(account_dir, name))) for name in names]


def account_entries(account_dir, prefix, keys):
    """[(label, link or '', note)] from every '<prefix>*.json' of dest/account/, in each shape
    exports have: under one of `keys` (or the file itself a bare list), a mapping name ->
    link or a list of records."""
    entries = []
    for name in sorted(os.listdir(account_dir)):
        if not (name.startswith(prefix) and name.endswith('.json')):
            continue
        data = read_json(os.path.join(account_dir, name))
        value = data if isinstance(data, list) else next(
            (as_dict(data)[k] for k in keys if as_dict(data).get(k) is not None), None)
        if isinstance(value, dict):
            entries.extend((str(k), text_of(v) if isinstance(v, (str, dict)) else '', '') for k, v in value.items())
        for item in as_list(value):
            item = as_dict(item)
            label = next((text_of(item.get(k)) for k in ('title', 'name', 'screen_name', 'username', 'photo_id')
                          if text_of(item.get(k))), '')
            link = next((text_of(item.get(k)) for k in ('url', 'photo_url', 'profile_url', 'link')
                         if text_of(item.get(k))), '')
            note = next((text_of(item.get(k)) for k in ('favedate', 'date', 'date_create', 'created')
                         if text_of(item.get(k))), '')
            entries.append((label or link or '?', link, note))
    return entries


def account_page(account_dir):
    """html/account.html: the account's contacts, followers, favourites (each a link to
    Flickr) and galleries, as the export lists them."""
    sections = []
    for title, prefix, keys in (('Contacts', 'contacts', ('contacts',)), ('Followers', 'followers', ('followers',)),
                                ('Favourites', 'faves', ('faves', 'favorites')),
                                ('Galleries', 'galleries', ('galleries',))):
        entries = [(label, link if re.match(r'^https?://', link) else '', note)
                   for label, link, note in account_entries(account_dir, prefix, keys)]
        sections.append({'title': title, 'entries': entries})
    return render('account.html', **page_context(
        'Account', '../', crumbs=(('../index.html', 'Home'),), description='From Flickr\'s data export.'),
        sections=sections)


# -- thumbnails: Flickr's own small size, fetched once per photo version

def thumb_name(photo_id, url):
    """A replaced photo has new secrets, so a new URL and a new thumbnail."""
    return '%s-%s.jpg' % (page_id(photo_id), hashlib.sha1(url.encode('utf-8', 'surrogatepass')).hexdigest()[:12])


def thumb_path(photo_id, url):
    """The thumbnail's path relative to dest."""
    return '/'.join((HTML_DIR, THUMBS_DIR, thumb_name(photo_id, url)))


def fetch_thumbnails(dest, photos, fetcher, jobs=DEFAULT_JOBS, stop=None, executor=None):
    """Fetch the missing thumbnails (each photo's THUMB_EXTRA URL, from the listing) into
    dest/html/thumbs/, set each photo's has_thumb when its file is there, and remove the
    thumbnails no listed photo uses any more.  `stop` (an Event) set: no more are asked
    for, and none is removed.  `executor` fetches and removes them (by default one of its
    own, with `fetcher`).  Returns (fetched, failed)."""
    executor = executor or Executor(dest, thumbnails=fetcher)
    thumbs_rel = HTML_DIR + '/' + THUMBS_DIR
    thumbs_dir = os.path.join(dest, HTML_DIR, THUMBS_DIR)
    new_dir = not os.path.isdir(thumbs_dir)
    executor.run(make_missing_dir(dest, thumbs_rel))
    wanted = set()

    def missing():   # a generator: 100,000 pending items at once would be heavy
        for photo in photos:
            if stop is not None and stop.is_set():
                return
            url = photo.thumb_url
            if not url:
                continue
            name = thumb_name(photo.id, url)
            wanted.add(name)
            if executor.has_file(os.path.join(thumbs_dir, name)):
                photo.has_thumb = True
            else:
                yield photo, name, url
    fetched = failed = 0

    def finish(key, future):
        nonlocal fetched, failed
        photo, url = key
        if future.result():
            photo.has_thumb = True
            fetched += 1
        else:
            failed += 1
    try:
        with SyncBatch() as dirs:
            run_bounded(jobs, (((photo, url), executor.apply, FetchThumbnail(thumbs_rel + '/' + name, url, dirs))
                               for photo, name, url in missing()), finish)
    except KeyboardInterrupt:   # SIGTERM or Ctrl+C before the first thumbnail: no empty directory stays
        if new_dir:
            remove_if_empty(thumbs_dir)
        raise
    if stop is not None and stop.is_set():
        if new_dir:
            remove_if_empty(thumbs_dir)
        return fetched, failed   # `wanted` is partial: what it lacks is not stale
    if new_dir:
        return fetched, failed
    with os.scandir(thumbs_dir) as entries:
        stale = sorted(e.name for e in entries if OUR_THUMB_RE.match(e.name) and e.name not in wanted)
    executor.run(Delete(thumbs_rel + '/' + name) for name in stale)
    return fetched, failed


class Thumbnails:
    """The HTML view's thumbnails, fetched on a thread of their own while the run goes on
    (`with thumbnails.coming(): ...`): CDN requests, not API calls, so enrichment need not
    wait for them nor they for it (a first mirror of 2,000 photos spent about 17 s on each,
    one after the other).  Ctrl+C or an error in the block stops them at once, through the
    run's stop event, which also wakes a thumbnail waiting to be retried."""

    def __init__(self, state, executor, jobs, stats, reporter, wanted=True):
        self.state, self.executor, self.jobs, self.stats, self.reporter = state, executor, jobs, stats, reporter
        self.wanted = wanted
        self.stop_event = executor.thumbnails.transport.stop_event
        self.error = None

    def _fetch(self):
        try:
            self.state.thumbnails = fetch_thumbnails(self.state.dest, self.state.photostream, self.executor.thumbnails,
                                                     self.jobs, self.stop_event, self.executor)
        except BaseException as e:   # handed to the run's thread in coming()
            self.error = e

    @contextlib.contextmanager
    def coming(self):
        if not self.wanted:
            yield
            return
        thread = threading.Thread(target=self._fetch, name='thumbnails', daemon=True)
        thread.start()
        try:
            yield
            thread.join()
        finally:
            if thread.is_alive():   # an error or Ctrl+C in the block or the wait: the run ends
                self.stop_event.set()
                thread.join()
        if isinstance(self.error, LinkInTheWay):   # the pages show no previews; the rest goes on
            part_stopped(self.error, self.stats, self.reporter)
        elif self.error is not None:
            raise self.error
        if self.state.thumbnails[1]:
            self.reporter.info('%s could not be fetched; their photos show without a preview until the next run.'
                               % plural(self.state.thumbnails[1], 'thumbnail'))

HTML_PAGE_SIZE = 500
THUMB_MAX_SIDE = 320
# An original this small (no Flickr size exists below it) is its own thumbnail.
SMALL_ORIGINAL_BYTES = 100 * 1024
# Only files matching these are ever deleted from dest/html/ (never a user's own files).
OUR_PAGE_RE = re.compile(r'^(?:album-[\w-]+(?:\.page\d+)?|collection-[\w-]+|photostream-\d+'
                         r'|not-in-any-album(?:\.page\d+)?|photo-[\w-]+'
                         r'|tags|places|archive|map|(?:tag|place|year|month)-[\w-]+(?:\.page\d+)?'
                         r'|galleries|gallery-[\w-]+|groups|group-[\w-]+(?:\.page\d+)?|favorites)\.html$', re.ASCII)
OUR_THUMB_RE = re.compile(r'^[\w-]+-[0-9a-f]{12}\.jpg$', re.ASCII)
# The HTML Flickr allows in descriptions and comments; everything else is removed by nh3
# (scripts with their content, event handlers, javascript: links, styles, images).
FLICKR_HTML_TAGS = {'a', 'abbr', 'acronym', 'b', 'blockquote', 'br', 'cite', 'code', 'del', 'em',
                    'i', 'ins', 'q', 's', 'strike', 'strong', 'sub', 'sup', 'tt', 'u'}
FLICKR_HTML_ATTRIBUTES = {'a': {'href', 'title'}, 'abbr': {'title'}, 'acronym': {'title'}}
# What clean_text() changes: those, a carriage return, a lone surrogate.
_UNCLEAN_RE = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]')


def rich_text(markup):
    """Flickr's description or comment HTML as Flickr shows it: its few inline tags kept,
    everything executable removed, links opened without handing over this page."""
    return nh3.clean(clean_text(markup).strip(), tags=FLICKR_HTML_TAGS, attributes=FLICKR_HTML_ATTRIBUTES,
                     url_schemes={'http', 'https', 'mailto'}, link_rel='nofollow noopener noreferrer')


def title_of(item):
    return shown_title(item.get('title'))


def shown_title(title):
    return (title or '').strip() or 'Untitled'


def media_path(photo):
    """Its media file's path relative to dest, or None when it is not mirrored."""
    return PHOTOSTREAM_DIR + '/' + photo.filename if photo.filename else None


def thumb_of(photo):
    """Its grid image's path relative to dest: Flickr's thumbnail, else a preview of ours
    (None when neither is there)."""
    if photo.has_thumb:
        return thumb_path(photo.id, photo.thumb_url)
    return own_preview_path(photo.preview) if photo.preview else None


# What quote() leaves as it is (with '/' between segments): most of our paths, a page's
# links by the hundred thousand, need no encoding at all.
_URL_PLAIN_RE = re.compile(r'[A-Za-z0-9_.~/-]*', re.ASCII)


def url_path(path):
    """Percent-encode each segment of a relative '/'-separated path for href/src."""
    if _URL_PLAIN_RE.fullmatch(path):
        return path
    return '/'.join(quote(seg, safe='') for seg in path.split('/'))


def to_page(root, name):
    """href from a page at depth root ('' or '../') to a page in dest/html/."""
    return (HTML_DIR + '/' if root == '' else '') + url_path(name)


def safe_relpath(rel):
    """The photo's path inside dest, or None if it could point outside it."""
    if not rel or rel.startswith('/') or '\\' in rel or '..' in rel.split('/'):
        return None
    return rel


# -- the model

class View:
    """What every page needs, computed once: lookups, cover choice, image sizes."""

    def __init__(self, dest, photos, albums, collections, page_size, details=None, camera_facts=None,
                 has_file=os.path.isfile):
        self.dest = dest
        self.has_file = has_file   # (a dry run's tells the files it would bring too)
        self.page_size = max(1, int(page_size))
        self.photos = photos
        self.by_id = {p.id: p for p in photos}
        self.albums = albums
        self.album_by_id = {a['id']: a for a in albums}
        self.collections = collections
        self._media = {}  # photo id -> MISSING, or its (width, height) (0: unknown)
        self._sizes = {}  # one tuple for each size: most photos of a camera share a few
        self.details = details or (lambda pid: None)
        self.camera_facts = camera_facts or (lambda pid: {})
        self.lists = {}   # {'galleries': [...], 'groups': [...]} (see api_galleries, api_groups)

    MISSING = ()   # no file: no size

    def media(self, photo):
        """(relative path, width, height) of a photo's file on disk; path None if missing.
        What is cached is a shared size a photo: 100,000 paths would be 20 MB."""
        rel = safe_relpath(media_path(photo))
        if not rel:
            return None, None, None
        known = self._media.get(photo.id)
        if known is None:
            known = self._media[photo.id] = self._measure(photo, os.path.join(self.dest, *rel.split('/')))
        if known == self.MISSING:
            return None, None, None
        w, h = known
        return rel, w or None, h or None

    def _measure(self, photo, path):
        if not self.has_file(path):
            return self.MISSING
        w = h = 0
        if photo.media != 'video':
            w, h = image_size(path) or (0, 0)
        return self._sizes.setdefault((w, h), (w, h))

    def grid_image(self, photo):
        """(path relative to dest, width, height) of the small image grids show, or None:
        its thumbnail, or an original too small to have one.  Never a large original.
        Not cached (a stat is cheap; 100,000 cached answers are not), and a thumbnail's
        size is not read: grid cells have a fixed shape."""
        thumb = safe_relpath(thumb_of(photo))
        if thumb and os.path.isfile(os.path.join(self.dest, *thumb.split('/'))):
            return thumb, None, None
        rel, w, h = self.media(photo)
        if rel and photo.media != 'video' and w and h and max(w, h) <= THUMB_MAX_SIDE:
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
        videos = sum(1 for pid in photo_ids if pid in self.by_id and self.by_id[pid].media == 'video')
        parts = [plural(len(photo_ids) - videos, 'photo')]
        if videos:
            parts.append(plural(videos, 'video'))
        return ', '.join(parts)


# -- templates
# Every page is rendered from the templates below (kept here so that the program stays one
# file), compiled once per run.  Autoescaping is on: a value is text unless it is Markup,
# and only the nh3-sanitized description and comment HTML is (sanitized()).  Templates read
# prepared values (a page's context is built in one function per page kind); they do not
# reach into photos themselves.

VIEW_TEMPLATES = {
    # The head and the navigation of every page, then its heading: crumbs (href, label),
    # the <h1>, a count and a description.
    'base.html': """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{# Defence in depth: all text is escaped or sanitized, and only the search page runs
   scripts, its own files only ('self'; never inline). #}
<meta http-equiv="Content-Security-Policy" content="{% if scripts %}script-src 'self'{% else %}script-src 'none'{% endif %}; object-src 'none'">
<title>{{ title }} \u2013 Flickr backup</title>
{{ site_head }}
{% for name in scripts %}
<script defer src="{{ to_page(root, name) }}"></script>
{% endfor %}
</head>
<body>
{{ site_header }}
<main>
{% if crumbs %}
<nav class="crumbs">{% for href, label in crumbs %}{% if not loop.first %} \u203a {% endif %}<a href="{{ href }}">{{ label }}</a>{% endfor %}</nav>
{% endif %}
<h1>{{ heading }}</h1>
{% if count %}
<p class="count">{{ count }}</p>
{% endif %}
{% if description %}
<p class="desc">{{ description }}</p>
{% endif %}
{% block main %}{% endblock %}
</main>
</body>
</html>
""",
    # What every page at one depth (root) shows alike, rendered once a run for each.
    'site.html': """\
{% macro head() %}<link rel="stylesheet" href="{{ to_page(root, 'style.css') }}">{% endmacro %}
{% macro header() -%}
<header class="site"><a class="home" href="{{ root }}index.html">Flickr backup</a>
{#- #}<nav><a href="{{ to_page(root, photostream_page(1)) }}">Photostream</a><a href="{{ to_page(root, orphan_page(1)) }}">Not in any album</a>
{#- #}<a href="{{ to_page(root, TAGS_PAGE) }}">Tags</a><a href="{{ to_page(root, PLACES_PAGE) }}">Places</a><a href="{{ to_page(root, ARCHIVE_PAGE) }}">Archive</a><a href="{{ to_page(root, MAP_PAGE) }}">Map</a>
{%- for name, label in sections %}<a href="{{ to_page(root, name) }}">{{ label }}</a>{% endfor %}</nav>
{#- A plain form: it opens the search page with ?q=, which reads it. #}
<form class="search" role="search" action="{{ to_page(root, SEARCH_PAGE) }}">
{#- #}<input type="search" name="q" placeholder="Search titles, tags, albums" aria-label="Search"></form></header>
{%- endmacro %}
""",
    'parts.html': """\
{# A grid image (GridImage): a thumbnail, or an original too small to have one. #}
{% macro img(image, alt, cls='') -%}
<img{% if cls %} class="{{ cls }}"{% endif %} src="{{ image.src }}" alt="{{ alt }}" loading="lazy" decoding="async"
{%- if image.width and image.height %} width="{{ image.width }}" height="{{ image.height }}"{% endif %}>
{%- endmacro %}

{# One tile of an album or collection grid (CoverCard). #}
{% macro cover_card(card) -%}
<li class="card"><a href="{{ card.href }}"><span class="thumb">
{%- if card.image %}{{ img(card.image, '') }}{% else %}<span class="nocover">No preview</span>{% endif -%}
</span><span class="name">{{ card.title }}</span><span class="meta">{{ card.count }}</span></a></li>
{%- endmacro %}

{% macro grid(cards) -%}
<ul class="grid covers">
{% for card in cards %}
{{ cover_card(card) }}
{% endfor %}
</ul>
{%- endmacro %}

{# The index's nested list of collections (TreeNode). #}
{% macro tree(nodes) -%}
<ul class="tree">
{% for node in nodes %}
<li><a href="{{ node.href }}">
{%- if node.image %}{{ img(node.image, '', 'mini') }}{% else %}<span class="mini"></span>{% endif -%}
<span><span class="name">{{ node.title }}</span><span class="meta">{{ node.meta }}</span></span></a>
{%- if node.children +%}
{{ tree(node.children) }}
{% endif %}</li>
{% endfor %}
</ul>
{%- endmacro %}

{# Links to the first, last, previous, next and nearby pages (Pager). #}
{% macro pager(p) -%}
<nav class="pager">
{%- if p.prev %}<a rel="prev" href="{{ p.prev }}">\u2190 Previous</a>{% endif %}
{%- for n, href in p.numbers %}
{%- if n is none %}<span class="gap">\u2026</span>
{%- elif href %}<a href="{{ href }}">{{ n }}</a>
{%- else %}<span class="current">{{ n }}</span>{% endif %}
{%- endfor %}
{%- if p.next %}<a rel="next" href="{{ p.next }}">Next \u2192</a>{% endif -%}
</nav>
{%- endmacro %}
""",
    'index.html': """\
{% extends 'base.html' %}
{% from 'parts.html' import cover_card, grid, tree %}
{% block main %}
<ul class="grid covers special">
{% for card in special %}
{{ cover_card(card) }}
{% endfor %}
</ul>
{% if account %}
<p class="account"><a href="{{ account }}">Contacts, followers, favourites and galleries</a></p>
{% endif %}
{% if collections %}
<h2 class="section">Collections</h2>
{{ tree(collections) }}
{% endif %}
<h2 class="section">Albums</h2>
{% if albums %}
{{ grid(albums) }}
{% else %}
<p class="empty">No albums.</p>
{% endif %}
{% endblock %}
""",
    # A page of a photo list (the photostream, an album, photos in no album): PhotoCards.
    # A card calls no macro: 100,000 photos make 100,000 cards a list, and a call costs more
    # than the card.
    'photos.html': """\
{% extends 'base.html' %}
{% from 'parts.html' import pager %}
{% block main %}
{% if pages %}
{{ pager(pages) }}
{% endif %}
{% if cards %}
<ul class="grid photos">
{% for card in cards %}
<li class="photo" id="p{{ card.anchor }}">
{%- if not card.href -%}
<span class="frame missing">Not mirrored</span>
{%- else -%}
<a class="frame{% if card.video %} video{% endif %}" href="{{ card.href }}">
{%- if card.image %}<img src="{{ card.image.src }}" alt="{{ card.title }}" loading="lazy" decoding="async"
{%- if card.image.width and card.image.height %} width="{{ card.image.width }}" height="{{ card.image.height }}"{% endif %}>
{%- else %}<span class="nocover">{% if card.video %}Video{% else %}No preview{% endif %}</span>{% endif %}
{%- if card.video %}<span class="play" title="Video">\u25b6</span>{% endif -%}
</a>
{%- endif -%}
<div class="info"><h2>{{ card.title }}</h2>
{%- if card.taken %}<time datetime="{{ card.taken[0] }}">{{ card.taken[1] }}</time>{% endif %}
{%- if card.description %}<p class="desc">{{ card.description }}</p>{% endif %}
{%- if card.tags %}<ul class="tags">{% for tag in card.tags %}<li>{{ tag }}</li>{% endfor %}</ul>{% endif -%}
</div></li>
{% endfor %}
</ul>
{% else %}
<p class="empty">Nothing here.</p>
{% endif %}
{% if pages %}
{{ pager(pages) }}
{% endif %}
{% block after_list %}{% endblock %}
{% endblock %}
""",
    'collection.html': """\
{% extends 'base.html' %}
{% from 'parts.html' import grid %}
{% block main %}
{% if children %}
{{ grid(children) }}
{% endif %}
{% if albums %}
{{ grid(albums) }}
{% endif %}
{% if not albums and not children %}
<p class="empty">This collection is empty.</p>
{% endif %}
{% endblock %}
""",
    # A photo's own page: the original, its words, place, albums, comments, Flickr link.
    'photo.html': """\
{% extends 'base.html' %}
{% block main %}
<nav class="steps">
{%- if stream_prev %}<a rel="prev" href="{{ stream_prev }}">\u2190 Previous</a>{% else %}<span class="off">\u2190 Previous</span>{% endif -%}
<span class="where">Photostream</span>
{%- if stream_next %}<a rel="next" href="{{ stream_next }}">Next \u2192</a>{% else %}<span class="off">Next \u2192</span>{% endif -%}
</nav>
<figure class="original">
{%- if video %}<video controls preload="metadata" src="{{ src }}"{% if poster %} poster="{{ poster }}"{% endif %}></video>
{%- elif boxes %}
{#- The image in a frame of its own shape, the notes' and people's boxes on it in percent. #}
<div class="marked" style="{{ marked_style }}"><a href="{{ src }}"><img src="{{ src }}" alt="{{ heading }}" width="{{ width }}" height="{{ height }}"></a>
{%- for box in boxes %}<a class="box {{ box.kind }}" id="box-{{ box.anchor }}" href="#{{ box.anchor }}" style="{{ box.style }}"><span>{{ box.label }}</span></a>{% endfor -%}
</div>
{%- else %}<a href="{{ src }}"><img src="{{ src }}" alt="{{ heading }}"
{%- if width and height %} width="{{ width }}" height="{{ height }}"{% endif %}></a>{% endif -%}
</figure>
{% if notes %}
<h2 class="section">{{ notes_heading }}</h2>
<ol class="notes">
{% for note in notes %}
<li id="{{ note.anchor }}"><span class="author">{{ note.author }}</span><div class="text">{{ note.text }}</div>
{%- if note.boxed %}<a class="onphoto" href="#box-{{ note.anchor }}">Show on the photo</a>{% endif %}</li>
{% endfor %}
</ol>
{% endif %}
{% if photo_description %}
<p class="desc">{{ photo_description }}</p>
{% endif %}
<dl class="facts">
{% if taken %}
<dt>Taken</dt><dd><time datetime="{{ taken[0] }}">{{ taken[1] }}</time></dd>
{% else %}
{# unknown to Flickr, or no real date (the raw value stays in .metadata) #}
<dt>Taken</dt><dd class="unknown">date unknown</dd>
{% endif %}
{% if place %}
<dt>Place</dt><dd>{{ place }}</dd>
{% endif %}
{% if pin %}
<dt>Map</dt><dd>{% from 'maps.html' import world_map, osm_link %}{{ world_map([pin], 'small', 4) }}{{ osm_link(pin) }}</dd>
{% endif %}
{% if tags %}
<dt>Tags</dt><dd><ul class="tags">{% for tag in tags %}<li><a href="{{ tag_href(tag) }}">{{ tag }}</a></li>{% endfor %}</ul></dd>
{% endif %}
{% if people %}
<dt>People</dt><dd><ul class="people">{% for person in people %}<li id="{{ person.anchor }}">{{ person.name }}
{%- if person.boxed %} <a class="onphoto" href="#box-{{ person.anchor }}">Show on the photo</a>{% endif %}</li>{% endfor %}</ul></dd>
{% endif %}
{% for key, label, text in camera_facts %}
<dt>{{ label }}</dt><dd class="{{ key }}">{{ text }}</dd>
{% endfor %}
{% if albums %}
<dt>Albums</dt><dd><ul class="albums">
{% for album in albums %}
<li><nav class="steps">
{%- if album.prev %}<a rel="prev" href="{{ album.prev }}">\u2190 Previous</a>{% else %}<span class="off">\u2190 Previous</span>{% endif -%}
<span class="where"><a href="{{ album.href }}">{{ album.title }}</a> <span class="meta">{{ album.position }} of {{ album.size }}</span></span>
{%- if album.next %}<a rel="next" href="{{ album.next }}">Next \u2192</a>{% else %}<span class="off">Next \u2192</span>{% endif -%}
</nav>
</li>
{% endfor %}
</ul></dd>
{% endif %}
{% if visible_to %}
<dt>Visible to</dt><dd>{{ visible_to }}</dd>
{% endif %}
<dt>File</dt><dd><a class="file" href="{{ src }}">{{ file_name }}</a></dd>
{% if flickr_url %}
<dt>On Flickr</dt><dd><a href="{{ flickr_url }}" rel="noopener noreferrer">{{ flickr_url }}</a></dd>
{% endif %}
</dl>
{% if comments %}
<h2 class="section">{{ comments_heading }}</h2>
<ol class="comments">
{% for c in comments %}
<li><span class="author">{{ c.author }}</span> <time>{{ c.date }}</time><div class="text">{{ c.text }}</div></li>
{% endfor %}
</ol>
{% endif %}
{% endblock %}
""",
    'search.html': """\
{% extends 'base.html' %}
{% block main %}
<form class="bigsearch" role="search" action="{{ url_path(SEARCH_PAGE) }}"><input id="q" type="search" name="q" placeholder="Words from titles, descriptions, tags or album names" aria-label="Search" autofocus></form>
<p class="count" id="status">Searching needs JavaScript, which is off in this browser.</p>
<ul class="grid covers" id="results"></ul>
{% endblock %}
""",
    # The world map (maps.html's world_map): world.svg (WORLD_OUTLINE) as an image, and
    # above it one SVG in the same degrees (x = longitude, y = -latitude) whose pins
    # (MapPin) link to their photos.  Nothing is fetched: OpenStreetMap is a link only.
    'maps.html': """\
{% macro pin_marks(pins, radius) -%}
{%- for pin in pins %}<a href="{{ pin.href }}"><circle class="pin" cx="{{ pin.x }}" cy="{{ pin.y }}" r="{{ radius }}"><title>{{ pin.title }}</title></circle></a>{% endfor -%}
{%- endmacro %}

{# marks: the pins already rendered (the map page's, a thousand at a time) #}
{% macro world_map(pins, cls, radius, marks=none) -%}
<div class="worldmap {{ cls }}"><img src="{{ url_path(WORLD_SVG) }}" alt="">
{#- #}<svg viewBox="-180 -90 360 180" role="img" aria-label="Photos on the world map">
{%- if marks is none %}{{ pin_marks(pins, radius) }}{% else %}{{ marks }}{% endif -%}
</svg></div>
{%- endmacro %}

{# Nested places (PlaceNode): a name linking its photos, their count, OpenStreetMap. #}
{% macro places(nodes) -%}
<ul class="places">
{% for node in nodes %}
<li>{% if node.href %}<a href="{{ node.href }}">{{ node.name }}</a>{% else %}{{ node.name }}{% endif %} <span class="meta">{{ node.count }}</span>
{%- if node.osm %} <a class="osm" href="{{ node.osm }}" rel="noopener noreferrer">OpenStreetMap</a>{% endif %}
{%- if node.children +%}
{{ places(node.children) }}
{% endif %}</li>
{% endfor %}
</ul>
{%- endmacro %}

{% macro osm_link(pin) -%}
<a class="osm" href="{{ pin.osm }}" rel="noopener noreferrer">OpenStreetMap</a>
{%- endmacro %}
""",
    'map.html': """\
{% extends 'base.html' %}
{% from 'maps.html' import world_map %}
{% block main %}
{{ world_map((), 'big', MAP_RADIUS, marks=marks) }}
{% if not pinned %}
<p class="empty">No photo has a place on Flickr.</p>
{% endif %}
{% endblock %}
""",
    'pin_marks.html': """\
{% from 'maps.html' import pin_marks %}{{ pin_marks(pins, MAP_RADIUS) }}""",
    # html/tags.html: TagLinks, the machine tags (namespace:predicate=value) apart.
    'tags.html': """\
{% extends 'base.html' %}
{% block main %}
{% for heading, tags in sections %}
{% if heading %}
<h2 class="section">{{ heading }}</h2>
{% endif %}
{% if tags %}
<ul class="cloud">
{% for tag in tags %}
<li><a href="{{ tag.href }}">{{ tag.name }}</a> <span class="meta">{{ tag.count }}</span></li>
{% endfor %}
</ul>
{% else %}
<p class="empty">No tags.</p>
{% endif %}
{% endfor %}
{% endblock %}
""",
    # html/places.html: countries, their regions, their localities (PlaceNodes), each with
    # its page of photos and a link to OpenStreetMap.
    'places.html': """\
{% extends 'base.html' %}
{% from 'maps.html' import places %}
{% block main %}
{% if nodes %}
{{ places(nodes) }}
{% else %}
<p class="empty">No photo has a place on Flickr.</p>
{% endif %}
{% endblock %}
""",
    # html/archive.html: years taken, newest first, each with its months (ArchiveYear).
    'archive.html': """\
{% extends 'base.html' %}
{% block main %}
{% for year in years %}
<h2 class="section" id="y{{ year.year }}">{{ year.year }} <span class="meta">{{ year.count }}</span></h2>
<ul class="months">
{% for href, label, count in year.parts %}
<li><a href="{{ href }}">{{ label }}</a> <span class="meta">{{ count }}</span></li>
{% endfor %}
</ul>
{% else %}
<p class="empty">No photo has a date taken.</p>
{% endfor %}
{% if undated %}
<p class="meta">{{ undated }} without a date taken.</p>
{% endif %}
{% endblock %}
""",
    # html/account.html: sections of (label, link or '', note), as the data export lists them.
    'account.html': """\
{% extends 'base.html' %}
{% block main %}
{% for section in sections %}
<h2 class="section">{{ section.title }} ({{ section.entries|length }})</h2>
{% if section.entries %}
<ul class="account">
{% for label, link, note in section.entries %}
<li>{% if link %}<a href="{{ link }}">{{ label }}</a>{% else %}{{ label }}{% endif %}{% if note %} <span class="meta">{{ note }}</span>{% endif %}</li>
{% endfor %}
</ul>
{% else %}
<p class="empty">None.</p>
{% endif %}
{% endfor %}
{% endblock %}
""",    # Galleries, groups and album comments: an album's page (photos.html) with its comments, a
    # group's page with its link to Flickr, the lists of galleries and groups, a gallery.
    'comments.html': """\
{% macro comment_list(heading, comments) -%}
<h2 class="section">{{ heading }}</h2>
<ol class="comments">
{% for c in comments %}
<li><span class="author">{{ c.author }}</span> <time>{{ c.date }}</time><div class="text">{{ c.text }}</div></li>
{% endfor %}
</ol>
{%- endmacro %}
""",
    'album.html': """\
{% extends 'photos.html' %}
{% from 'comments.html' import comment_list %}
{% block after_list %}
{% if comments %}
{{ comment_list(comments_heading, comments) }}
{% endif %}
{% endblock %}
""",
    'group.html': """\
{% extends 'photos.html' %}
{% block after_list %}
{% if flickr_url %}
<p class="flickr"><a href="{{ flickr_url }}" rel="noopener noreferrer">This group on Flickr</a></p>
{% endif %}
{% endblock %}
""",
    # html/galleries.html and html/groups.html: ListEntry rows.
    'lists.html': """\
{% extends 'base.html' %}
{% block main %}
{% if entries %}
<ul class="account lists">
{% for e in entries %}
<li><a href="{{ e.href }}">{{ e.title }}</a> <span class="meta">{{ e.meta }}</span>
{%- if e.flickr_url %} <a class="flickr" href="{{ e.flickr_url }}" rel="noopener noreferrer">on Flickr</a>{% endif %}</li>
{% endfor %}
</ul>
{% else %}
<p class="empty">None.</p>
{% endif %}
{% endblock %}
""",
    # html/favorites.html: FavoriteTiles, newest fave first: other people's photos, each a link
    # to its file where --favorites keeps it (never loaded by the grid) and to its page on Flickr.
    'favorites.html': """\
{% extends 'base.html' %}
{% block main %}
{% if tiles %}
<ul class="grid photos favorites">
{% for t in tiles %}
<li class="photo other">
{%- if t.local %}<a class="frame" href="{{ t.local }}"><span class="nocover">{{ t.kind }}</span></a>
{%- elif t.url %}<a class="frame remote" href="{{ t.url }}" rel="noopener noreferrer"><span class="nocover">On Flickr</span></a>{% endif -%}
<div class="info"><h2>{{ t.title }}</h2>
{%- if t.owner %}<p class="meta">By {{ t.owner }}{% if t.license %} &middot; {{ t.license }}{% endif %}</p>{% endif -%}
{%- if t.faved %}<p class="meta">Faved {{ t.faved }}</p>{% endif -%}
{%- if t.local and t.url %}<p class="meta"><a href="{{ t.url }}" rel="noopener noreferrer">On Flickr</a></p>{% endif -%}
</div></li>
{% endfor %}
</ul>
{% else %}
<p class="empty">None.</p>
{% endif %}
{% endblock %}
""",
    # A gallery: GalleryTiles in its order.  Others' photos are text tiles linking to Flickr:
    # their images are on Flickr's servers, and the view loads nothing from the network.
    'gallery.html': """\
{% extends 'base.html' %}
{% block main %}
{% if flickr_url %}
<p class="flickr"><a href="{{ flickr_url }}" rel="noopener noreferrer">This gallery on Flickr</a></p>
{% endif %}
{% if tiles %}
<ul class="grid photos gallery">
{% for t in tiles %}
<li class="photo{% if t.remote %} other{% endif %}">
{%- if t.remote -%}
<a class="frame remote" href="{{ t.href }}" rel="noopener noreferrer"><span class="nocover">On Flickr</span></a>
{%- elif t.href -%}
<a class="frame" href="{{ t.href }}">
{%- if t.image %}<img src="{{ t.image.src }}" alt="{{ t.title }}" loading="lazy" decoding="async">
{%- else %}<span class="nocover">No preview</span>{% endif -%}
</a>
{%- else -%}
<span class="frame missing">Not mirrored</span>
{%- endif -%}
<div class="info"><h2>{{ t.title }}</h2>
{%- if t.owner %}<p class="owner">by {{ t.owner }}</p>{% endif %}
{%- if t.comment %}<div class="comment">{{ t.comment }}</div>{% endif -%}
</div></li>
{% endfor %}
</ul>
{% else %}
<p class="empty">This gallery is empty.</p>
{% endif %}
{% endblock %}
""",
}


# (page, label) of the sections this mirror has beyond its photos (galleries, groups), which
# every page's header links: set by write_html_view around the pages it renders (they are
# rendered far from the view that knows them).
NAV_SECTIONS = contextvars.ContextVar('nav_sections', default=())


def shown(value):
    """How a template shows a value (before autoescaping it): text without control
    characters, nothing for None; Markup (sanitized HTML) as it is."""
    if value is None:
        return ''
    if type(value) is str and not value.isprintable() and _UNCLEAN_RE.search(value):   # most text is clean
        return clean_text(value)
    return value


def sanitized(markup):
    """Flickr's description or comment HTML, sanitized (rich_text), as HTML to show: the
    only values the templates do not escape."""
    return markupsafe.Markup(rich_text(markup) if markup else '')


@functools.lru_cache(maxsize=None)
def view_templates():
    """The view's template environment, made and compiled once.  Jinja2 is imported here,
    when a page is first made: 11 MiB that a run making no page (an unchanged re-run) spares."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.DictLoader(VIEW_TEMPLATES), autoescape=True, finalize=shown,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, auto_reload=False)
    env.globals.update(to_page=to_page, url_path=url_path, photostream_page=photostream_page,
                       orphan_page=orphan_page, SEARCH_PAGE=SEARCH_PAGE, tag_href=tag_href, TAGS_PAGE=TAGS_PAGE,
                       PLACES_PAGE=PLACES_PAGE, ARCHIVE_PAGE=ARCHIVE_PAGE, MAP_PAGE=MAP_PAGE, WORLD_SVG=WORLD_SVG,
                       MAP_RADIUS=MAP_RADIUS)
    return env


def render(template, **context):
    """A page as the parts write_html_view joins (one part: the rendered template)."""
    return (view_templates().get_template(template).render(**context),)


@functools.lru_cache(maxsize=None)
def site_parts(root, sections=()):
    """(head, header) of every page at root, rendered once: the same on thousands of pages.
    sections: the header's links to what the mirror has (galleries, groups...)."""
    site = view_templates().get_template('site.html').make_module({'root': root, 'sections': sections})
    return site.head(), site.header()


def page_context(title, root, heading=None, crumbs=(), count=None, description=None, scripts=()):
    """What base.html needs: root is '' for dest/index.html, '../' for pages in dest/html/;
    scripts: our own script files in dest/html/ (the search page's); every other page may
    run none at all; description: Flickr's HTML (sanitized here)."""
    site_head, site_header = site_parts(root, tuple(NAV_SECTIONS.get()))
    return {'title': title, 'root': root, 'heading': title if heading is None else heading,
            'crumbs': crumbs, 'count': count, 'description': sanitized(description), 'scripts': scripts,
            'site_head': site_head, 'site_header': site_header}


# -- page pieces: the values the templates show

GridImage = namedtuple('GridImage', 'src width height')
CoverCard = namedtuple('CoverCard', 'href title count image')
TreeNode = namedtuple('TreeNode', 'href title meta image children')
PhotoCard = namedtuple('PhotoCard', 'anchor title href video image taken description tags')
Pager = namedtuple('Pager', 'prev numbers next')
AlbumPlace = namedtuple('AlbumPlace', 'href title position size prev next')
Comment = namedtuple('Comment', 'author date text')
Mark = namedtuple('Mark', 'anchor author name text boxed')      # a note or a person, listed
Box = namedtuple('Box', 'kind anchor label style')              # its box over the image


def grid_image(view, photo, root):
    """The photo's grid image (a thumbnail; see View.grid_image), as a page at root links it."""
    rel, w, h = view.grid_image(photo)
    return GridImage(root + url_path(rel), w, h)


def cover_card(view, href, title, count, cover, root):
    return CoverCard(href, title, count, grid_image(view, cover, root) if cover else None)


def album_cards(view, album_ids, root):
    return [cover_card(view, to_page(root, album_page(aid)), title_of(view.album_by_id[aid]),
                       view.media_counts(view.album_by_id[aid].get('photo_ids', [])),
                       view.album_cover(view.album_by_id[aid]), root)
            for aid in album_ids]


def known_albums(view, coll):
    """The collection's album ids that have pages (a listing may name a deleted one)."""
    return [a for a in coll.get('album_ids', []) if a in view.album_by_id]


def collection_meta(view, coll):
    meta = plural(len(known_albums(view, coll)), 'album')
    if coll.get('children'):
        meta += ', ' + plural(len(coll['children']), 'collection')
    return meta


def collection_tree(view, colls, root):
    """The nested list of collections for the index page."""
    nodes = []
    for coll in colls:
        cover = view.collection_cover(coll)
        nodes.append(TreeNode(to_page(root, collection_page(coll['id'])), title_of(coll), collection_meta(view, coll),
                              grid_image(view, cover, root) if cover else None,
                              collection_tree(view, coll.get('children') or [], root)))
    return nodes


def taken_of(photo):
    """(machine-readable date, as shown) of a photo's date taken, as precise as Flickr knows
    it ('circa 1912'); None when unknown."""
    if not photo.taken:
        return None
    return date_at_granularity(photo.taken, photo.granularity), date_taken_text(photo.taken, photo.granularity)


def photo_card(view, pid, root):
    """One photo or video of a list: its thumbnail (linking to its own page), title, date
    taken, tags and description."""
    photo = view.by_id.get(pid) or Photo(id=pid, title='Photo %s' % pid)
    rel = view.media(photo)[0] if pid in view.by_id else None
    image = view.grid_image(photo) if rel else None
    return PhotoCard(page_id(pid), shown_title(photo.title), to_page(root, photo_page(pid)) if rel else None,
                     photo.media == 'video', image and GridImage(root + url_path(image[0]), image[1], image[2]),
                     taken_of(photo), sanitized(photo.description), photo.tags)


def pager(page, pages, name_of):
    """Links to the first, last, previous, next and nearby pages; None for a single page.
    numbers: (page number, href; None for the current page), (None, None) for a gap."""
    if pages <= 1:
        return None
    shown_numbers = sorted({1, pages} | set(range(max(1, page - 3), min(pages, page + 3) + 1)))
    numbers, last = [], 0
    for n in shown_numbers:
        if n > last + 1:
            numbers.append((None, None))
        numbers.append((n, None if n == page else url_path(name_of(n))))
        last = n
    return Pager(url_path(name_of(page - 1)) if page > 1 else None, numbers,
                 url_path(name_of(page + 1)) if page < pages else None)


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
    all_ids = [p.id for p in view.photos]
    orphans = orphan_ids(view)
    account = os.path.isdir(os.path.join(view.dest, ACCOUNT_DIR))   # from Flickr's data export
    return render('index.html', **page_context(
        'Home', '', heading='Flickr backup', count='%s, %s, %s' % (
            view.media_counts(all_ids), plural(len(view.albums), 'album'), plural(len(view.collections), 'collection'))),
        special=[cover_card(view, to_page('', photostream_page(1)), 'Photostream', view.media_counts(all_ids),
                            view.first_image(all_ids), ''),
                 cover_card(view, to_page('', orphan_page(1)), 'Not in any album', view.media_counts(orphans),
                            view.first_image(orphans), '')] + list_cards(view, ''),
        account=to_page('', ACCOUNT_PAGE) if account else None,
        collections=collection_tree(view, view.collections, ''),
        albums=album_cards(view, [a['id'] for a in view.albums], ''))


def photo_list_pages(view, title, photo_ids, name_of, description=None, crumbs=(), template='photos.html',
                     extra=None):
    """Yield (file name, parts) for a paginated list of photos, one page in memory at a time;
    extra: what the first page alone shows beyond the list (a template extending photos.html)."""
    pages = max(1, -(-len(photo_ids) // view.page_size))
    counts = view.media_counts(photo_ids)   # once, not once a page: 200 pages of 100,000 photos
    for n in range(1, pages + 1):
        chunk = photo_ids[(n - 1) * view.page_size:n * view.page_size]
        page_title = title if pages == 1 else '%s (page %d of %d)' % (title, n, pages)
        more = extra if n == 1 else dict.fromkeys(extra or (), None)
        yield name_of(n), render(template, **page_context(
            page_title, '../', crumbs=crumbs, count=counts, description=description if n == 1 else None),
            pages=pager(n, pages, name_of), cards=[photo_card(view, pid, '../') for pid in chunk], **(more or {}))


def collection_pages(view, colls, parents=()):
    """Yield (file name, parts) for each collection in the tree; parents: crumbs above it."""
    for coll in colls:
        title = title_of(coll)
        children = coll.get('children', [])
        yield collection_page(coll['id']), render('collection.html', **page_context(
            title, '../', crumbs=(('../index.html', 'Home'),) + parents, count=collection_meta(view, coll),
            description=coll.get('description')),
            children=[cover_card(view, url_path(collection_page(child['id'])), title_of(child),
                                 collection_meta(view, child), view.collection_cover(child), '../')
                      for child in children],
            albums=album_cards(view, known_albums(view, coll), '../'))
        crumb = (url_path(collection_page(coll['id'])), title)
        yield from collection_pages(view, children, parents + (crumb,))


def orphan_ids(view):
    in_album = set()
    for album in view.albums:
        in_album.update(album.get('photo_ids', []))
    return [p.id for p in view.photos if p.id not in in_album]


def album_places(view):
    """photo id -> where it is in albums: (album number, position in it), or a list of them
    for a photo in several albums (most are in one: a list each would cost 100,000 lists).
    Read it with places_of()."""
    places = {}
    for n, album in enumerate(view.albums):
        for i, pid in enumerate(album.get('photo_ids', [])):
            photo = view.by_id.get(pid)
            if photo is not None and view.media(photo)[0]:
                held = places.get(pid)
                if held is None:
                    places[pid] = (n, i)
                elif isinstance(held, list):
                    held.append((n, i))
                else:
                    places[pid] = [held, (n, i)]
    return places


def places_of(view, places, pid):
    """[(album, position in it)] of a photo, in album order."""
    held = places.get(pid)
    if held is None:
        return []
    return [(view.albums[n], i) for n, i in (held if isinstance(held, list) else [held])]


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


def describe_place(detail):
    """'Locality, Region, Country (lat, lon)' from whatever the photo's metadata has."""
    names = [clean_text(n).strip() for n in detail.place_names]
    text = ', '.join(n for n in names if n)
    lat, lon = detail.position
    if lat is not None and lon is not None:
        text += '%s(%.5f, %.5f)' % (' ' if text else '', lat, lon)
    return text


def photo_href(photo_id):
    """href of a photo's page from another page in dest/html/, or None (no such photo)."""
    return url_path(photo_page(photo_id)) if photo_id else None


def visible_to(privacy):
    """Who may see the photo on Flickr, in words ('friend' -> 'your friends')."""
    if not privacy:
        return None
    return {'public': 'everyone', 'private': 'you only'}.get(privacy, 'your ' + privacy.replace('friend', 'friends'))


def flickr_link(url):
    """The photo's page on Flickr, when it is one (nothing else is linked from a photo page)."""
    return url if re.match(r'^https://[\w.-]*flickr\.com/', url or '') else None


CAMERA_FACT_LABELS = (('camera', 'Camera'), ('lens', 'Lens'), ('exposure', 'Exposure'), ('iso', 'ISO'))


def camera_facts_shown(facts):
    """(key, label, text) of each of the original's own camera facts known (Originals.facts)."""
    return [(key, label, facts[key]) for key, label in CAMERA_FACT_LABELS if facts.get(key)]


# Flickr draws notes in the photo's 500-pixel size (the original's size when it is smaller).
NOTE_FRAME = 500


def note_frame(width, height):
    scale = min(1.0, NOTE_FRAME / max(width, height))
    return width * scale, height * scale


def box_style(box, frame):
    """A box as CSS percentages of the shown image; None when it lies outside the frame."""
    x, y, w, h = box
    fw, fh = frame
    left, top = max(0.0, x / fw), max(0.0, y / fh)
    right, bottom = min(1.0, (x + w) / fw), min(1.0, (y + h) / fh)
    if right <= left or bottom <= top:
        return None
    return 'left:%.2f%%;top:%.2f%%;width:%.2f%%;height:%.2f%%' % (
        left * 100, top * 100, (right - left) * 100, (bottom - top) * 100)


def photo_marks(notes, people, width, height):
    """(notes, people, boxes) of a photo page: Marks to list, Boxes to draw over the image
    (only where its size is known, so that a box lands where Flickr drew it)."""
    marks = {'note': [], 'person': []}
    boxes = []
    frame = note_frame(width, height) if width and height else None
    items = [('note', n, frame) for n in notes] + [('person', p, p.get('frame') or frame) for p in people]
    for kind, item, item_frame in items:
        anchor = '%s-%d' % (kind, len(marks[kind]) + 1)
        style = box_style(item['box'], item_frame) if item.get('box') and item_frame and frame else None
        if kind == 'note':
            mark = Mark(anchor, item['author'] or 'Someone', None, sanitized(item['text']), bool(style))
            label = '%s: %s' % (mark.author, html_to_text(mark.text))   # what the list shows, as text
        else:
            mark = Mark(anchor, None, item['name'], None, bool(style))
            label = item['name']
        marks[kind].append(mark)
        if style:
            boxes.append(Box(kind, anchor, label, style))
    return marks['note'], marks['person'], boxes


def marked_style(width, height):
    """The frame of an image with boxes: the image's shape, as large as the page shows the
    image alone (never wider than it is, nor taller than 75% of the window)."""
    return 'aspect-ratio:%d/%d;width:min(100%%,%dpx,calc(75vh*%d/%d))' % (width, height, width, width, height)


def photo_page_parts(view, photo, stream_ids, index, places):
    """A photo's own page (photo.html): every read of the photo and of its details is here."""
    pid = photo.id
    title = shown_title(photo.title)
    rel, w, h = view.media(photo)
    detail = view.details(pid) or Photo()
    video = photo.media == 'video'
    poster = view.grid_image(photo) if video else None
    stream_prev, stream_next = neighbours(view, stream_ids, index)
    albums = []
    for album, i in places_of(view, places, pid):
        ids = album.get('photo_ids', [])
        prev_id, next_id = neighbours(view, ids, i)
        albums.append(AlbumPlace(url_path(album_page(album['id'], i // view.page_size + 1)), title_of(album),
                                 i + 1, len(ids), photo_href(prev_id), photo_href(next_id)))
    comments = [Comment(c.get('author'), c.get('date'), sanitized(c.get('text'))) for c in detail.shown_comments]
    # Boxes are drawn on a photo as Flickr shows it: not on a video, nor on a photo Flickr
    # turns (its boxes are in the turned frame, the file shows it unturned).
    drawn = not video and not detail.rotation
    notes, people, boxes = photo_marks(detail.shown_notes, detail.shown_people,
                                       w if drawn else None, h if drawn else None)
    stream_page = photostream_page(index // view.page_size + 1)
    return render('photo.html', **page_context(
        title, '../', crumbs=(('../index.html', 'Home'), (url_path(stream_page), 'Photostream'))),
        stream_prev=photo_href(stream_prev), stream_next=photo_href(stream_next),
        src='../' + url_path(rel), video=video, poster=poster and '../' + url_path(poster[0]), width=w, height=h,
        photo_description=sanitized(photo.description), taken=taken_of(photo), place=describe_place(detail),
        pin=photo_pin(photo, detail),
        tags=photo.tags, camera_facts=camera_facts_shown(view.camera_facts(pid)),
        albums=albums, visible_to=visible_to(detail.privacy),
        file_name=rel.rsplit('/', 1)[-1], flickr_url=flickr_link(detail.url),
        comments=comments, comments_heading=plural(len(comments), 'comment'),
        notes=notes, notes_heading=plural(len(notes), 'note'), people=people, boxes=boxes,
        marked_style=marked_style(w, h) if boxes else None)


def photo_pages(view):
    """Yield (file name, parts) for every photo that is mirrored, one page at a time."""
    stream_ids = [p.id for p in view.photos]
    places = album_places(view)
    for index, photo in enumerate(view.photos):
        if view.media(photo)[0]:
            yield photo_page(photo.id), photo_page_parts(view, photo, stream_ids, index, places)


# -- tags, places, years taken and the world map
# Each is gathered in one pass over the photos, or (places) as each photo's page reads its
# .metadata: never a pass over all the photos per tag, place or month.

TAGS_PAGE = 'tags.html'
PLACES_PAGE = 'places.html'
ARCHIVE_PAGE = 'archive.html'
MAP_PAGE = 'map.html'
WORLD_SVG = 'world.svg'
# Flickr's machine tags, namespace:predicate=value: listed apart on the tag index.
MACHINE_TAG_RE = re.compile(r'^[A-Za-z_]\w*:[A-Za-z_]\w*=.', re.ASCII)
MONTHS = ('January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
          'October', 'November', 'December')
# How near OpenStreetMap opens on a country, a region, a locality (or a photo).
OSM_ZOOMS = (5, 8, 12)

TagLink = namedtuple('TagLink', 'href name count')
PlaceNode = namedtuple('PlaceNode', 'href name count osm children')
ArchiveYear = namedtuple('ArchiveYear', 'year count parts')
MapPin = namedtuple('MapPin', 'href title x y osm')
MAP_RADIUS = 1.2   # the map page's pins (degrees)
# Where a page made in parts is split (a NUL: no page holds one, valid_text takes them out).
PARTS_SPLIT = '\x00parts\x00'


def is_machine_tag(tag):
    return MACHINE_TAG_RE.match(tag) is not None


def tag_key(tag):
    """Flickr's identity of a tag, so one page each: 'New York', 'new york' and 'newyork'
    are one tag; a machine tag is only lower-cased."""
    lower = tag.lower()
    return lower if is_machine_tag(tag) else (re.sub(r'[^\w]', '', lower) or lower)


def named_page(kind, key, n=1, readable=None):
    """'<kind>-<readable>-<hash of key>.html' (.page<n> beyond the first): a file name for
    any text, its ASCII letters and digits kept so that it reads as what it is.  Names of
    no ASCII letter (Japanese tags) differ by the hash alone: 48 bits keep them apart."""
    slug = re.sub(r'[^0-9a-z]+', '-', fold(readable if readable is not None else key).lower())
    slug = slug.encode('ascii', 'ignore').decode('ascii').strip('-')[:40].strip('-')
    name = '%s-%s%s' % (kind, slug + '-' if slug else '',
                        hashlib.sha1(key.encode('utf-8', 'surrogatepass')).hexdigest()[:12])
    return name + ('.html' if n == 1 else '.page%d.html' % n)


def tag_page(tag, n=1):
    return named_page('tag', tag_key(tag), n)


def tag_href(tag):
    """href of a tag's page from another page in dest/html/."""
    return url_path(tag_page(tag))


def place_page(place, n=1):
    """place: (country, region, locality); ('', '', '') holds the places Flickr names not."""
    return named_page('place', '\n'.join(place), n, readable=' '.join(reversed(place)))


def year_page(year, n=1):
    return 'year-%s.html' % year if n == 1 else 'year-%s.page%d.html' % (year, n)


def month_page(year, month, n=1):
    return 'month-%s-%s.html' % (year, month) if n == 1 else 'month-%s-%s.page%d.html' % (year, month, n)


def osm_url(lat, lon, zoom=OSM_ZOOMS[-1]):
    """The place on OpenStreetMap: a link only, nothing of it is loaded by the view."""
    return 'https://www.openstreetmap.org/?mlat=%.5f&mlon=%.5f#map=%d/%.5f/%.5f' % (lat, lon, zoom, lat, lon)


def map_pin(pid, title, lat, lon):
    return MapPin(photo_href(pid), title, '%.2f' % lon, '%.2f' % -lat, osm_url(lat, lon))


def photo_pin(photo, detail):
    """The pin of a photo's own page, None when Flickr gives it no place (or hides it)."""
    lat, lon = detail.position
    return map_pin(photo.id, shown_title(photo.title), lat, lon) if lat is not None and lon is not None else None


def photos_by_tag(view):
    """tag key -> [the tag as first typed (photostream order), photo ids in photostream order]."""
    tags = {}
    for photo in view.photos:
        pid = photo.id
        for tag in photo.tags:
            key = tag_key(tag)
            entry = tags.get(key)
            if entry is None:
                tags[key] = [tag, [pid]]
            elif entry[1][-1] != pid:
                entry[1].append(pid)
    return tags


def tag_pages(view):
    """Yield (file name, parts) for the tag index, then each tag's list of photos."""
    tags = photos_by_tag(view)
    home = (('../index.html', 'Home'),)
    plain, machine = [], []
    for key in sorted(tags, key=lambda k: (fold(tags[k][0]), k)):
        name, ids = tags[key]
        (machine if is_machine_tag(name) else plain).append(TagLink(tag_href(name), name, view.media_counts(ids)))
    sections = [(None, plain)] + ([('Machine tags', machine)] if machine else [])
    yield TAGS_PAGE, render('tags.html', **page_context('Tags', '../', crumbs=home, count=plural(len(tags), 'tag')),
                            sections=sections)
    crumbs = home + ((url_path(TAGS_PAGE), 'Tags'),)
    for name, ids in tags.values():
        yield from photo_list_pages(view, name, ids, lambda n, name=name: tag_page(name, n), crumbs=crumbs)


def photos_by_date(view):
    """(year -> {month '01'-'12', or '' when Flickr knows the year alone -> [photo ids]},
    the number of photos without a date taken)."""
    years, undated = {}, 0
    for photo in view.photos:
        taken = photo.taken or ''
        if not taken:
            undated += 1
            continue
        month = taken[5:7] if DATE_TAKEN_LENGTH.get(photo.granularity or '0', 19) >= 7 else ''
        years.setdefault(taken[:4], {}).setdefault(month, []).append(photo.id)
    return years, undated


def archive_pages(view):
    """Yield (file name, parts) for the archive by year and month taken, then a list of
    photos per month (in the order taken) and per year for those known to the year only."""
    years, undated = photos_by_date(view)
    home = (('../index.html', 'Home'),)
    crumbs = home + ((url_path(ARCHIVE_PAGE), 'Archive'),)
    entries, lists = [], []
    for year in sorted(years, reverse=True):
        months = years[year]
        parts = []
        for month in sorted(months, key=lambda m: (not m, m)):   # the year's unknown month last
            ids = sorted(months[month], key=lambda pid: (view.by_id[pid].taken, pid))   # in the order taken
            if month:
                title = '%s %s' % (MONTHS[int(month) - 1], year)
                name_of = functools.partial(month_page, year, month)
            else:
                title = '%s, month unknown' % year
                name_of = functools.partial(year_page, year)
            parts.append((url_path(name_of(1)), title, view.media_counts(ids)))
            lists.append((title, ids, name_of))
        entries.append(ArchiveYear(year, view.media_counts([pid for m in months.values() for pid in m]), parts))
    yield ARCHIVE_PAGE, render('archive.html', **page_context('Archive', '../', crumbs=home), years=entries,
                               undated=plural(undated, 'photo') if undated else None)
    for title, ids, name_of in lists:
        yield from photo_list_pages(view, title, ids, name_of, crumbs=crumbs)


class Locations:
    """The place of each photo whose page is made, noted as its page reads its details (its
    .metadata): the places and map pages read nothing of their own."""

    def __init__(self, view):
        self.details = view.details
        # The pins in photostream order: ids and coordinates apart (a tuple a photo would
        # weigh five times as much at 100,000 photos).
        self.pin_ids, self.pin_lats, self.pin_lons = [], array.array('d'), array.array('d')
        self.named = {}    # (country, region, locality) -> [photo ids]; ('', '', ''): coordinates only
        self.sums = {}     # ... -> [latitude sum, longitude sum, photos placed]: its centre
        self.last = None
        view.details = self.noted

    def pins(self):
        return zip(self.pin_ids, self.pin_lats, self.pin_lons)

    def centre(self, place):
        """(latitude, longitude) of the mean of the place's placed photos, or None."""
        sums = self.sums.get(place)
        return (sums[0] / sums[2], sums[1] / sums[2]) if sums else None

    def noted(self, pid):
        detail = self.details(pid) or Photo()
        if pid == self.last:
            return detail
        self.last = pid
        lat, lon = detail.position
        placed = lat is not None and lon is not None
        place = tuple(detail.place or ('', '', ''))
        if placed:
            self.pin_ids.append(pid)
            self.pin_lats.append(lat)
            self.pin_lons.append(lon)
            sums = self.sums.setdefault(place, [0.0, 0.0, 0])
            sums[0] += lat
            sums[1] += lon
            sums[2] += 1
        if placed or any(place):
            self.named.setdefault(place, []).append(pid)
        return detail


def place_name(place):
    """'Locality, Region, Country' of what Flickr names."""
    return ', '.join(name for name in reversed(place) if name) or 'Places without a name'


def place_tree(named):
    """{name: [place key or None, {children}]}: country > region > locality; a place
    Flickr names only to the region is that region's own entry."""
    root = {}
    for place in named:
        names = list(place)
        while len(names) > 1 and not names[-1]:
            names.pop()
        if not any(names):
            names = ['']
        node = None
        children = root
        for name in names:
            node = children.setdefault(name, [None, {}])
            children = node[1]
        node[0] = place
    return root


def place_nodes(view, tree, located, depth=0):
    """PlaceNodes of a place_tree level, by name (the nameless last), and the ids under each."""
    nodes, under = [], []
    named = located.named
    for name in sorted(tree, key=lambda n: (not n, fold(n), n)):
        place, children = tree[name]
        ids = list(named[place]) if place is not None else []
        child_nodes, child_ids = place_nodes(view, children, located, depth + 1)
        osm = None
        centre = located.centre(place) if place is not None and any(place) else None
        if centre:
            osm = osm_url(centre[0], centre[1], OSM_ZOOMS[min(depth, len(OSM_ZOOMS) - 1)])
        label = place_name(place) if place is not None and not any(place) else (
            name or ('Unknown country', 'Unknown region', 'Unknown place')[min(depth, 2)])
        nodes.append(PlaceNode(url_path(place_page(place)) if place is not None else None, label,
                               view.media_counts(ids + child_ids), osm, child_nodes))
        under += ids + child_ids
    return nodes, under


def place_pages(view, located):
    """Yield (file name, parts) for the places, a list of photos per place, and the map:
    from what the photo pages, made before, noted (located)."""
    home = (('../index.html', 'Home'),)
    nodes, ids = place_nodes(view, place_tree(located.named), located)
    yield PLACES_PAGE, render('places.html', **page_context('Places', '../', crumbs=home,
                                                           count=view.media_counts(ids) if ids else None), nodes=nodes)
    crumbs = home + ((url_path(PLACES_PAGE), 'Places'),)
    for place, ids in located.named.items():
        yield from photo_list_pages(view, place_name(place), ids, functools.partial(place_page, place), crumbs=crumbs)
    yield MAP_PAGE, map_page_parts(view, located, home)


def map_page_parts(view, located, home):
    """The map page as parts: a pin a placed photo, 100,000 of them on a big account, so
    rendered a thousand at a time between the page's head and tail, never held all at once."""
    head, tail = render('map.html', **page_context('Map', '../', crumbs=home, count=plural(
        len(located.pin_ids), 'photo') + ' on the map'), marks=markupsafe.Markup(PARTS_SPLIT),
        pinned=bool(located.pin_ids))[0].split(PARTS_SPLIT)
    yield head
    pins = located.pins()
    while True:
        batch = [map_pin(pid, shown_title(view.by_id[pid].title), lat, lon)
                 for pid, lat, lon in itertools.islice(pins, 1000)]
        if not batch:
            break
        yield render('pin_marks.html', pins=batch)[0]
    yield tail


def world_svg():
    """html/world.svg: the outline the maps draw their pins on (degrees, y = -latitude)."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="-180 -90 360 180" preserveAspectRatio="none">'
            '<rect x="-180" y="-90" width="360" height="180" fill="#d4e6f4"/>'
            '<path fill="#efece3" stroke="#8a8a8a" stroke-width="0.25" stroke-linejoin="round" d="%s"/></svg>\n'
            % WORLD_OUTLINE)


# -- galleries, groups and album comments
# From the mirror's galleries.json, groups.json and album metadata (the API's), else from the
# data export's account files (an export-only mirror; its photos' groups come from each
# photo_<id>.json).  HtmlView reads them into the shapes below; every page is O(its items).
#
#     dest/html/galleries.html          your galleries
#     dest/html/gallery-<id>.html       a gallery: yours linked here, others' to Flickr
#     dest/html/groups.html             the groups you are in
#     dest/html/group-<id>.html         your photos in a group's pool (.page<n> beyond 500)

GALLERIES_PAGE = 'galleries.html'
GROUPS_PAGE = 'groups.html'
FAVORITES_PAGE = 'favorites.html'

ListEntry = namedtuple('ListEntry', 'href title meta flickr_url')
GalleryTile = namedtuple('GalleryTile', 'title href remote image owner comment')
FavoriteTile = namedtuple('FavoriteTile', 'title url faved local kind owner license',
                          defaults=(None, '', '', ''))


def gallery_page(gallery_id):
    return 'gallery-%s.html' % page_id(gallery_id)


def group_page(group_id, n=1):
    return 'group-%s.html' % page_id(group_id) if n == 1 else 'group-%s.page%d.html' % (page_id(group_id), n)


def flickr_photo_url(owner, photo_id):
    """Another owner's photo on Flickr; photo.gne finds a photo by its id alone (the export
    names no owner)."""
    if owner:
        return 'https://www.flickr.com/photos/%s/%s/' % (quote(owner, safe='@'), photo_id)
    return 'https://www.flickr.com/photo.gne?id=%s' % photo_id


def flickr_url_or_none(url):
    return url if re.match(r'^https://(?:[\w-]+\.)*flickr\.com/', url or '') else None


def api_galleries(data):
    """galleries.json (the API's) as [{'id', 'title', 'description', 'url', 'photos':
    [{'id', 'title', 'owner', 'url', 'comment'}]}]."""
    galleries = []
    for entry in map(as_dict, as_list(as_dict(data).get('galleries'))):
        gallery = as_dict(entry.get('gallery'))
        if not isinstance(gallery.get('id'), str) or not gallery['id']:
            continue
        photos = [{'id': p['id'], 'title': text_of(p.get('title')),
                   'owner': text_of(p.get('ownername')) or as_scalar(p.get('owner')),
                   'url': flickr_photo_url(as_scalar(p.get('path_alias')) or as_scalar(p.get('owner')), p['id']),
                   'comment': text_of(p.get('comment'))}
                  for p in map(as_dict, as_list(entry.get('photos'))) if valid_id(p.get('id'))]
        galleries.append({'id': gallery['id'], 'title': text_of(gallery.get('title')),
                          'description': text_of(gallery.get('description')), 'url': text_of(gallery.get('url')),
                          'photos': photos})
    return galleries


def export_galleries(data):
    """The export's account/galleries.json in the same shape (its photos are ids alone)."""
    galleries = []
    for gallery in map(as_dict, as_list(as_dict(data).get('galleries'))):
        gid = as_scalar(gallery.get('id'))
        if not gid:
            continue
        photos = [{'id': pid, 'title': '', 'owner': '', 'url': flickr_photo_url(None, pid), 'comment': ''}
                  for pid in map(as_scalar, as_list(gallery.get('photos'))) if valid_id(pid)]
        galleries.append({'id': str(gid), 'title': text_of(gallery.get('title')),
                          'description': text_of(gallery.get('description')), 'url': text_of(gallery.get('url')),
                          'photos': photos})
    return galleries


def pool_photo_ids(entry):
    """A groups.json entry's photo ids (as a list of ids, or as the {id, dateadded} records of
    the first groups.json, until its next run reads the pool again)."""
    if 'photo_ids' in entry:
        return as_list(entry['photo_ids'])
    return [as_dict(p).get('id') for p in as_list(entry.get('photos'))]


def api_groups(data):
    """groups.json (the API's) as [{'id', 'name', 'url', 'photo_ids'}]."""
    groups = []
    for entry in map(as_dict, as_list(as_dict(data).get('groups'))):
        group = as_dict(entry.get('group'))
        gid = as_scalar(group.get('id')) or as_scalar(group.get('nsid'))
        if not gid:
            continue
        groups.append({'id': str(gid), 'name': text_of(group.get('name')),
                       'url': 'https://www.flickr.com/groups/%s/' % quote(str(gid), safe='@'),
                       'photo_ids': [p for p in pool_photo_ids(entry) if valid_id(p)]})
    return groups


def export_groups(data, photos_in):
    """The export's account/groups.json in the same shape; photos_in: group id -> [photo
    ids], from each photo's own photo_<id>.json."""
    groups = []
    for group in map(as_dict, as_list(as_dict(data).get('groups'))):
        gid = as_scalar(group.get('id'))
        if not gid:
            continue
        groups.append({'id': str(gid), 'name': text_of(group.get('name')), 'url': text_of(group.get('url')),
                       'photo_ids': list(photos_in.get(str(gid), ()))})
    return groups


def api_album_comment(comment):
    """A photosets.comments.getList comment as pages show it (author, date, Flickr's HTML)."""
    when = to_int(comment.get('date_create'), None)
    author = next((a for a in (comment.get('authorname'), comment.get('realname'), comment.get('author'))
                   if isinstance(a, str) and a), '')
    return {'author': author, 'text': text_of(comment),
            'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(when)) if when else ''}


def export_album_comment(comment):
    """An entry of the export's sets_comments*.json: {photoset_id, comment_id, date, user
    (a profile's address), comment, url}."""
    user = text_of(comment.get('user'))
    name = re.match(r'^https://www\.flickr\.com/(?:photos|people)/([^/]+)/?$', user)
    when = calendar_date(comment.get('date'))
    return {'author': name.group(1) if name else user, 'text': text_of(comment.get('comment')),
            'date': when[:16] + ' UTC' if when else ''}


def exported_favorite(entry):
    """An entry of the export's faves_part*.json ({photo_id, photo_url, favedate}): a
    favourite, other people's photo, known by its page on Flickr alone."""
    pid = as_scalar(entry.get('photo_id'))
    return {'id': pid, 'url': text_of(entry.get('photo_url')) or flickr_photo_url(None, pid),
            'faved': text_of(entry.get('favedate'))} if valid_id(pid) else {}


def kept_favorite(metadata, name):
    """A favourite --favorites keeps (its .metadata; `name` its file in Favorites/)."""
    listing, fave = as_dict(metadata.get('listing')), as_dict(metadata.get(FAVORITE_KEY))
    pid = as_scalar(listing.get('id'))
    if not valid_id(pid):
        return {}
    return {'id': pid, 'url': text_of(fave.get('page')) or flickr_photo_url(None, pid),
            'faved': text_of(fave.get('faved')), 'title': text_of(listing.get('title')) or 'Photo %s' % pid,
            'file': name, 'video': listing.get('media') == 'video',
            'owner': text_of(fave.get('ownername')) or text_of(fave.get('owner')),
            'license': text_of(fave.get('license_name')), 'when': to_int(listing.get('date_faved'))}


def comments_shown(comments):
    return [Comment(c.get('author'), c.get('date'), sanitized(c.get('text'))) for c in comments]


def galleries_count(n):
    return '1 gallery' if n == 1 else plural(n, 'gallerie')   # plural() adds the 's'


def nav_sections(view):
    return [(page, label) for page, label, key in ((GALLERIES_PAGE, 'Galleries', 'galleries'),
                                                   (GROUPS_PAGE, 'Groups', 'groups'),
                                                   (FAVORITES_PAGE, 'Favourites', 'favorites')) if view.lists.get(key)]


def list_cards(view, root):
    """The index's cards of your galleries and groups (none when there is none of them)."""
    lists = view.lists
    cards = []
    for title, page, items, ids_of, what in (
            ('Galleries', GALLERIES_PAGE, lists.get('galleries'), lambda g: [p['id'] for p in g['photos']],
             galleries_count),
            ('Groups', GROUPS_PAGE, lists.get('groups'), lambda g: g['photo_ids'], lambda n: plural(n, 'group')),
            ('Favourites', FAVORITES_PAGE, lists.get('favorites'), lambda f: (), lambda n: plural(n, 'favourite'))):
        if items:
            cover = next((c for c in (view.first_image(ids_of(item)) for item in items) if c), None)
            cards.append(cover_card(view, to_page(root, page), title, what(len(items)), cover, root))
    return cards


def own_photo_href(view, pid):
    photo = view.by_id.get(pid)
    return photo_href(pid) if photo is not None and view.media(photo)[0] else None


def gallery_tile(view, photo):
    """One photo of a gallery: yours (held here) as a card of your own; another owner's as
    text linking to Flickr."""
    own = view.by_id.get(photo['id'])
    if own is None:
        return GalleryTile(photo['title'] or 'Photo %s' % photo['id'], photo['url'], True, None,
                           photo['owner'], sanitized(photo['comment']))
    href = own_photo_href(view, photo['id'])
    image = view.grid_image(own) if href else None
    return GalleryTile(shown_title(own.title), href, False, image and GridImage('../' + url_path(image[0]), None, None),
                       None, sanitized(photo['comment']))


def gallery_pages(view):
    """Yield (file name, parts) of the galleries' list and of each gallery."""
    galleries = view.lists.get('galleries')
    if not galleries:
        return
    home = (('../index.html', 'Home'),)
    yield GALLERIES_PAGE, render('lists.html', **page_context('Galleries', '../', crumbs=home,
                                                              count=galleries_count(len(galleries))),
                                 entries=[ListEntry(url_path(gallery_page(g['id'])), g['title'] or 'Untitled',
                                                    plural(len(g['photos']), 'photo'), flickr_url_or_none(g['url']))
                                          for g in galleries])
    crumbs = home + ((url_path(GALLERIES_PAGE), 'Galleries'),)
    for g in galleries:
        yield gallery_page(g['id']), render('gallery.html', **page_context(
            g['title'] or 'Untitled', '../', crumbs=crumbs, count=plural(len(g['photos']), 'photo'),
            description=g['description']),
            flickr_url=flickr_url_or_none(g['url']), tiles=[gallery_tile(view, p) for p in g['photos']])


def group_pages(view):
    """Yield (file name, parts) of the groups' list and of each group: your photos in it."""
    groups = view.lists.get('groups')
    if not groups:
        return
    home = (('../index.html', 'Home'),)
    yield GROUPS_PAGE, render('lists.html', **page_context('Groups', '../', crumbs=home,
                                                           count=plural(len(groups), 'group')),
                              entries=[ListEntry(url_path(group_page(g['id'])), g['name'] or g['id'],
                                                 '%s of yours' % plural(len(g['photo_ids']), 'photo'),
                                                 flickr_url_or_none(g['url'])) for g in groups])
    crumbs = home + ((url_path(GROUPS_PAGE), 'Groups'),)
    for g in groups:
        yield from photo_list_pages(view, g['name'] or g['id'], g['photo_ids'],
                                    lambda n, gid=g['id']: group_page(gid, n), crumbs=crumbs,
                                    template='group.html', extra={'flickr_url': flickr_url_or_none(g['url'])})


def favorite_tile(fave):
    if fave.get('file'):
        return FavoriteTile(fave['title'], flickr_url_or_none(fave['url']), fave['faved'],
                            '../%s/%s' % (FAVORITES_DIR, quote(fave['file'])), 'Video' if fave['video'] else 'Photo',
                            fave['owner'], fave['license'])
    return FavoriteTile('Photo %s' % fave['id'], flickr_url_or_none(fave['url']), fave['faved'])


def favorite_pages(view):
    """Yield (file name, parts) of the favourites' page (none without favourites)."""
    faves = view.lists.get('favorites')
    if faves:
        yield FAVORITES_PAGE, render('favorites.html', **page_context(
            'Favourites', '../', crumbs=(('../index.html', 'Home'),), count=plural(len(faves), 'favourite'),
            description='Other people\'s photos you marked as favourites on Flickr, as %s.' % (
                'kept in %s/ with their owner and licence' % FAVORITES_DIR if faves[0].get('file')
                else 'Flickr\'s data export lists them')),
            tiles=[favorite_tile(f) for f in faves])


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
    album_titles = albums_by_photo((album, album.get('photo_ids', [])) for album in view.albums)
    titles = [title_of(album) for album in view.albums]
    out = [b'/* flickrmirrorer search index: [page, image, title, words] */\nwindow.FLICKR_SEARCH = [']
    size = 0
    for i, photo in enumerate(view.photos):
        pid = photo.id
        title = clean_text(photo.title).strip()
        page = url_path(photo_page(pid)) if view.media(photo)[0] else ''
        image = view.grid_image(photo)
        words = ' '.join([title, html_to_text(photo.description), ' '.join(photo.tags)]
                         + [titles[n] for n in packed_values(album_titles.get(pid, ()))])
        entry = [page, '../' + url_path(image[0]) if image else '', title, fold(clean_text(words))]
        line = valid_text((',\n' if i else '\n') + json.dumps(entry, ensure_ascii=False)).encode('utf-8')
        out.append(line)
        size += len(line)
        if size >= DOWNLOAD_CHUNK:
            yield b''.join(out)
            out, size = [], 0
    out.append(b'\n];\n')
    yield b''.join(out)


def search_page():
    return render('search.html', **page_context('Search', '../', crumbs=(('../index.html', 'Home'),),
                                                scripts=(SEARCH_INDEX, SEARCH_SCRIPT)))


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
    inner = [photo_list_pages(view, 'Photostream', [p.id for p in view.photos], photostream_page,
                              crumbs=home),
             photo_list_pages(view, 'Not in any album', orphan_ids(view), orphan_page, crumbs=home)]
    for album in view.albums:
        comments = comments_shown(album.get('comments') or ())
        inner.append(photo_list_pages(
            view, title_of(album), list(album.get('photo_ids', [])),
            lambda n, aid=album['id']: album_page(aid, n), album.get('description'), home, template='album.html',
            extra={'comments': comments, 'comments_heading': plural(len(comments), 'comment')}))
    inner.append(collection_pages(view, view.collections))
    inner.append(gallery_pages(view))
    inner.append(group_pages(view))
    inner.append(favorite_pages(view))
    located = Locations(view)
    inner.append(photo_pages(view))
    inner += [tag_pages(view), archive_pages(view), place_pages(view, located)]
    inner.append([(SEARCH_PAGE, search_page())])
    if os.path.isdir(os.path.join(view.dest, ACCOUNT_DIR)):   # from Flickr's data export
        inner.append([(ACCOUNT_PAGE, account_page(os.path.join(view.dest, ACCOUNT_DIR)))])
    for pages in inner:
        for name, parts in pages:
            yield HTML_DIR + '/' + name, parts


def remove_stale_pages(html_dir, keep, executor):
    """Delete our own pages (by name pattern) that the current view no longer has."""
    removed = 0
    for name in sorted(os.listdir(html_dir)) if os.path.isdir(html_dir) else ():
        if OUR_PAGE_RE.match(name) and name not in keep:
            executor.apply(Delete(os.path.join(HTML_DIR, name)))
            removed += 1
    return removed


def write_html_view(dest, photos, albums, collections, page_size=HTML_PAGE_SIZE, details=None, camera_facts=None,
                    lists=None, executor=None):
    """Write dest/index.html, one page per album, collection and mirrored photo, and the
    search page with its index under dest/html/.

    photos: the Photos in photostream order, as the run keeps them (their filename in
            photostream/, None when not mirrored; has_thumb: its thumbnail is fetched)
    albums: list in Flickr's album order of dicts {'id', 'title', 'description',
            'primary': photo id or None, 'photo_ids': [ids in album order]}; optional
            'comments': [{'author', 'date', 'text' (Flickr's HTML)}]
    collections: the collection tree, list of dicts {'id', 'title', 'description',
            'album_ids': [...], 'children': [same shape...]}
    details: photo id -> the Photo read from its .metadata, or None: what only its photo
            page shows (place, privacy, Flickr page, comments, notes,
            people)
    camera_facts: photo id -> its original's camera facts ({'camera', 'lens', 'exposure',
            'iso'}, any of them), from its EXIF
    lists: {'galleries': api_galleries()'s shape, 'groups': api_groups()'s, 'favorites':
            exported_favorite()'s} (optional)
    executor: what writes them (a dry run's prints them); by default one of its own.
    Returns the number of files written (only files whose content changed are rewritten)."""
    executor = executor or Executor(dest)
    view = View(dest, photos, albums, collections, page_size, details, camera_facts, executor.has_file)
    view.lists = lists or {}
    html_dir = os.path.join(dest, HTML_DIR)
    executor.run(make_missing_dir(dest, HTML_DIR))
    written = 0

    def write(rel, data, batch):
        nonlocal written
        changed = rewrite(dest, WriteFile, rel, data, batch=batch)
        executor.run(changed)
        written += len(changed)
    sections = NAV_SECTIONS.set(nav_sections(view))
    with SyncBatch() as dirs, contextlib.ExitStack() as stack:
        stack.callback(NAV_SECTIONS.reset, sections)
        write(HTML_DIR + '/style.css', STYLE.encode('utf-8'), dirs)
        write(HTML_DIR + '/' + SEARCH_SCRIPT, SEARCH_JS.encode('utf-8'), dirs)
        write(HTML_DIR + '/' + WORLD_SVG, world_svg().encode('utf-8'), dirs)
        written += executor.apply(WriteChunks(HTML_DIR + '/' + SEARCH_INDEX, search_index(view), dirs))
        names = set()
        for rel, parts in all_pages(view):
            names.add(rel.split('/', 1)[1] if '/' in rel else rel)
            if isinstance(parts, tuple):
                write(rel, valid_text(''.join(parts)).encode('utf-8'), dirs)
            else:   # a page too big to hold at once (the map's): written as it is made
                written += executor.apply(WriteChunks(rel, (valid_text(part).encode('utf-8') for part in parts), dirs))
    remove_stale_pages(html_dir, names, executor)
    return written


# -- the world outline of the maps (world.svg): see testdata/world/README.md

# The world's coastlines and borders: Natural Earth 1:110m countries (public domain,
# naturalearthdata.com), simplified by testdata/world/make_outline.py.  An SVG path in
# degrees (x = longitude, y = -latitude) for the viewBox "-180 -90 360 180".
WORLD_OUTLINE = (
    'M33.9 1L39.2 4.7L39.2 8.5L40.3 10.3L39.5 10.9L34.6 11.5L33.7 9.4L30.7 8.3L29.6 6.5L29.3 4.5L30.8'
    ' 3.4L30.4 1.1ZM-8.7 -27.7L-8.7 -25.9L-12 -25.9L-11.9 -23.4L-12.9 -23.3L-12.9 -21.3L-17.1 -21L-14'
    '.8 -21.5L-11.4 -26.9ZM-122.8 -49L-127.4 -50.8L-127.9 -52.3L-130.5 -54.3L-130 -55.9L-135.5 -59.8L'
    '-137.5 -58.9L-141 -60.3L-141 -69.7L-136.5 -68.9L-129.1 -69.8L-128.1 -70.5L-125.8 -69.5L-124.4 -7'
    '0.2L-124.3 -69.4L-121.5 -69.8L-115.2 -68.9L-113.9 -68.4L-115.3 -67.9L-113.5 -67.7L-109.9 -68L-10'
    '8.9 -67.4L-107.8 -67.9L-108.8 -68.3L-108.2 -68.7L-106.2 -68.8L-101.5 -67.6L-98.4 -67.8L-98.6 -68'
    '.4L-97.7 -68.6L-96.1 -68.2L-96.1 -67.3L-94.2 -69.1L-96.5 -70.1L-96.4 -71.2L-95.2 -71.9L-92.9 -71'
    '.3L-91.5 -70.2L-92.4 -69.7L-90.5 -69.5L-90.6 -68.5L-89.2 -69.3L-88 -68.6L-88.3 -67.9L-87.4 -67.2'
    'L-85.6 -68.8L-85.5 -69.9L-82.6 -69.7L-81.3 -69.2L-82 -68.1L-81.4 -67.1L-85.8 -66.6L-87.3 -64.8L-'
    '90.7 -63.6L-94.2 -60.9L-94.7 -58.9L-93.2 -58.8L-92.3 -57.1L-82.3 -55.1L-82.1 -53.3L-79.9 -51.2L-'
    '78.6 -52.6L-79.8 -54.7L-76.5 -56.5L-78.5 -58.8L-77.3 -59.9L-78.1 -62.3L-73.8 -62.4L-69.6 -61.1L-'
    '69.3 -59L-67.6 -58.2L-64.6 -60.3L-61.4 -57L-61.8 -56.3L-57.3 -54.6L-55.8 -53.3L-55.7 -52.1L-60 -'
    '50.2L-66.4 -50.2L-71.1 -46.8L-65.1 -49.2L-64.2 -48.7L-65.1 -48.1L-64.5 -46.2L-61.5 -45.9L-60.5 -'
    '47L-59.8 -45.9L-65.4 -43.5L-66.1 -43.6L-66.2 -44.5L-64.4 -45.3L-67.1 -45.1L-67.8 -47.1L-69.2 -47'
    '.4L-71.5 -45L-74.9 -45L-82.4 -41.7L-83.1 -42L-82.1 -43.6L-82.6 -45.3L-88.4 -48.3L-91.6 -48.1L-94'
    '.8 -49.4ZM-79.8 -72.8L-80.8 -73.7L-76.3 -72.8ZM-93.6 -75L-96.8 -74.9L-94.9 -75.6ZM-96.8 -78.8L-9'
    '5.6 -78.4L-97.3 -77.9L-98.6 -78.9ZM-88.2 -74.4L-92.4 -74.8L-93.9 -76.3L-97.1 -76.8L-91.6 -76.8L-'
    '89.2 -75.6L-81.1 -75.7L-79.8 -74.9ZM-111.3 -78.2L-109.9 -78L-113.5 -77.7ZM-55.6 -51.3L-56.8 -49.'
    '8L-53.5 -49.2L-53.8 -48.5L-53.1 -48.7L-52.6 -47.5L-53.1 -46.7L-54.2 -46.8L-54.2 -47.8L-55.4 -46.'
    '9L-56.3 -47.6L-59.3 -47.6L-57.4 -50.7ZM-83.9 -65.1L-80.1 -63.7L-83.1 -64.1L-85.5 -63.1L-87.2 -63'
    '.5L-85.9 -65.7ZM-78.8 -72.4L-77.8 -72.7L-68.8 -70.5L-67 -69.2L-68.8 -68.7L-61.9 -66.9L-63.9 -65L'
    '-66.7 -66.4L-68 -66.3L-68.1 -65.7L-64.7 -63.4L-65 -62.7L-68.8 -63.7L-66.2 -61.9L-68.9 -62.3L-74.'
    '8 -64.7L-78.6 -64.6L-77.9 -65.3L-74 -65.5L-72.7 -67.3L-73.3 -68.1L-79 -70.2L-88.7 -70.4L-89.5 -7'
    '0.8L-88.5 -71.2L-89.9 -71.2L-90.2 -72.2L-88.4 -73.5L-85.8 -73.8L-86.6 -73.2L-85.8 -72.5L-82.3 -7'
    '3.8L-80.6 -72.7L-80.7 -72.1ZM-94.5 -74.1L-90.5 -73.9L-95.4 -72.1L-96 -73.4ZM-122.9 -76.1L-119.1 '
    '-77.5L-116.2 -77.6L-117.1 -76.5ZM-132.7 -54L-131.7 -54.1L-132 -53L-131.2 -52.2L-133.1 -53.4ZM-10'
    '5.5 -79.3L-100.8 -78.8L-99.7 -77.9L-105.2 -78.4L-104.2 -78.7ZM-123.5 -48.5L-125.7 -48.8L-128.4 -'
    '50.8L-125.8 -50.3ZM-121.5 -74.4L-115.5 -73.5L-123.1 -70.9L-125.9 -71.9L-123.9 -73.7L-124.9 -74.3'
    'ZM-107.8 -75.8L-105.7 -75.5L-112.2 -74.4L-113.9 -74.7L-111.8 -75.2L-117.7 -75.2L-115.4 -76.5L-10'
    '9.1 -75.5L-110.5 -76.4L-109.6 -76.8ZM-106.5 -73.1L-105.4 -72.7L-104.5 -71L-101.1 -69.6L-102.7 -6'
    '9.5L-102.4 -68.8L-113.3 -68.5L-117.3 -70L-112.4 -70.4L-117.9 -70.5L-118.4 -70.9L-116.1 -71.3L-11'
    '9.4 -71.6L-115.2 -73.3L-114.2 -73.1L-114.7 -72.7L-109.9 -73L-108.2 -71.7L-107.7 -72.1L-108.4 -73'
    '.1ZM-100.4 -72.7L-101.5 -73.4L-97.4 -73.8L-98.1 -73L-96.5 -72.6L-96.7 -71.7L-98.4 -71.3L-102.5 -'
    '72.5ZM-106.6 -73.6L-104.5 -73.4L-105.4 -72.8ZM-98.5 -76.7L-97.7 -76.3L-98.2 -75L-102.5 -75.6L-10'
    '2.6 -76.3ZM-96 -80.6L-92.4 -81.3L-85.8 -79.3L-89 -78.3L-92.9 -78.3L-94 -78.8L-93.1 -79.4L-96.7 -'
    '80.2ZM-91.6 -81.9L-79.3 -83.1L-61.9 -82.6L-67.7 -81.5L-65.5 -81.5L-71.2 -79.8L-76.9 -79.3L-75.5 '
    '-79.2L-76.2 -79L-75.4 -78.5L-79.8 -77.2L-77.9 -76.8L-80.6 -76.2L-89.5 -76.5L-87.8 -77.2L-88.3 -7'
    '7.9L-85 -77.5L-88 -78.4L-85.1 -79.3L-86.9 -80.3L-81.8 -80.5L-87.6 -80.5ZM-75.2 -67.4L-77.2 -67.6'
    'L-75.9 -68.3ZM-96.3 -69.5L-95.6 -69.1L-96.3 -68.8L-99.8 -69.4L-98.2 -70.1ZM-122.8 -49L-94.8 -49.'
    '4L-91.6 -48.1L-88.4 -48.3L-82.6 -45.3L-82.7 -41.7L-74.9 -45L-71.5 -45L-69.2 -47.4L-67.8 -47.1L-6'
    '7 -44.8L-70.1 -43.7L-70.8 -42.3L-70 -41.6L-73.7 -40.9L-71.9 -40.9L-74 -40.8L-74.9 -38.9L-75.5 -3'
    '9.5L-75.1 -38.4L-75.9 -37.2L-76.4 -39.1L-76.3 -38.1L-77 -38.2L-75.7 -35.6L-81.3 -31.4L-80.1 -26.'
    '9L-80.4 -25.2L-81.7 -25.9L-83.7 -29.9L-85.1 -29.6L-86.4 -30.4L-89.6 -30.2L-89.4 -29.2L-94.7 -29.'
    '5L-97.1 -27.8L-97.5 -25.8L-99 -26.4L-101 -29.4L-103.9 -29.3L-106.5 -31.8L-111 -31.3L-114.7 -32.7'
    'L-117.1 -32.5L-118.5 -34L-120.6 -34.6L-124.4 -40.3L-123.9 -45.5L-124.7 -48.2L-123.1 -48L-122.6 -'
    '47.1ZM-153.2 -58L-152.1 -57.6L-154.5 -57ZM-141 -69.7L-141 -60.3L-137.5 -58.9L-135.5 -59.8L-130 -'
    '55.9L-130.5 -54.8L-134.1 -58.1L-136.6 -58.2L-139.9 -59.5L-147.1 -60.9L-148.2 -60.7L-148 -60L-151'
    '.7 -59.2L-150.6 -61.3L-154 -59.4L-153.3 -58.9L-154.2 -58.1L-158.4 -56L-164.9 -54.6L-158.7 -57L-1'
    '57 -58.9L-162 -58.7L-162.5 -60L-165.3 -60.5L-166.1 -61.5L-165.7 -62.1L-164.6 -63.1L-160.8 -63.8L'
    '-161.5 -64.4L-160.8 -64.8L-165 -64.4L-168.1 -65.7L-164.5 -66.6L-161.7 -66.1L-166.8 -68.4L-166.2 '
    '-68.9L-156.6 -71.4ZM87.4 -49.2L85.8 -48.5L85.2 -47L83.2 -47.3L82.5 -45.5L80 -44.9L80.9 -43.2L80.'
    '3 -42.3L74.2 -43.3L73.5 -42.5L71.2 -42.7L68.6 -40.7L66.7 -41.2L66.1 -43L64.9 -43.7L62 -43.5L58.5'
    ' -45.6L55.9 -45L56 -41.3L54.1 -42.3L52.5 -41.8L52.5 -42.8L50.3 -44.6L53 -45.3L53 -46.9L49.1 -46.'
    '4L46.5 -48.4L47.5 -50.5L48.6 -49.9L50.8 -51.7L55.7 -50.6L61.3 -50.8L61.6 -51.3L60 -52L61.7 -53L6'
    '1 -53.7L61.4 -54L69.1 -55.4L70.9 -55.2L71.2 -54.1L73.5 -54L73.4 -53.5L76.9 -54.5L80 -50.9L83.4 -'
    '51.1ZM56 -41.3L55.9 -45L58.5 -45.6L62 -43.5L64.9 -43.7L66.1 -43L66.7 -41.2L68.3 -40.7L71 -42.3L7'
    '0.4 -41.5L73.1 -40.9L71.8 -40.1L70.6 -40.2L70.7 -41L69.3 -40.7L68.5 -39.5L67.7 -39.6L68.4 -38.2L'
    '67.8 -37.1L58.6 -42.8L57.1 -41.3ZM141 2.6L144.6 3.9L147.6 6.1L147.2 7.4L150.7 10.6L147.9 10.1L14'
    '4.7 7.6L142.6 9.3L141 9.1ZM152.6 3.7L152.8 4.8L150.7 2.7ZM151.3 5.8L149.7 6.3L148.3 5.7L150.1 5L'
    '150.8 5.5L152.1 4.1ZM141 2.6L141 9.1L140.1 8.3L137.6 8.4L138.7 7.3L137.9 5.4L133.7 3.5L133 4.1L1'
    '32 2.8L133.7 2.2L132.2 2.2L130.5 0.9L134 0.8L134.4 2.8L135.5 3.4L137.4 1.7ZM125 8.9L124.4 10.1L1'
    '23.5 10.2ZM117.9 -4.1L117.3 -3.2L119 -0.9L117.8 -0.8L116.1 4L110.2 2.9L109 -0.4L109.7 -2L110.5 -'
    '0.8L113.8 -1.2L114.6 -1.4L115.9 -4.3ZM129.4 2.8L130.8 3.9L127.9 3.4ZM127.9 -2.2L128.7 -1.1L128.1'
    ' 0.9L127.4 -1ZM122.9 -0.9L125.2 -1.4L123.7 -0.2L120.2 -0.2L120 0.5L120.9 1.4L123.3 0.6L121.5 1.9'
    'L123.2 5.3L122.2 5.3L122.7 4.5L121.5 4.6L121 2.6L120.3 2.9L120.4 5.5L119.8 5.7L118.8 2.8L119.8 -'
    '0.2L120.9 -1.3ZM121.3 8.5L122.9 8.1L122.8 8.6L119.9 8.8ZM118.3 8.4L119.1 8.7L116.7 9ZM108.5 6.4L'
    '112.6 6.9L115.7 8.4L114.6 8.8L105.4 6.9L106.1 5.9ZM104.4 1.1L106.1 3.1L105.8 5.9L104.7 5.9L102.6'
    ' 4.2L95.3 -5.5L97.5 -5.2L100.6 -2.1L102.5 -1.4L103.8 -0.1L103.4 0.7ZM-68.6 52.6L-67.8 53.9L-65 5'
    '4.7L-68.6 54.9ZM-57.6 30.2L-58.5 34.4L-57.2 35.3L-56.8 36.9L-59.2 38.7L-62.3 38.8L-62.1 40.7L-62'
    '.7 41L-65.1 41.1L-65 42.1L-63.5 42.6L-65.2 43.5L-65.6 45L-67.3 45.6L-67.6 46.3L-65.6 47.2L-69.1 '
    '50.7L-68.1 52.3L-71.9 52L-73.4 49.3L-72.3 48.2L-71.2 44.8L-72.1 42.3L-70.8 38.6L-71.1 36.7L-69.8'
    ' 34.2L-70.5 31.4L-69.7 28.5L-68.3 26.9L-68.4 24.5L-67.3 24L-66.3 21.8L-64.4 22.8L-64 22L-62.8 22'
    'L-60.8 23.9L-57.8 25.2L-58.6 27.1L-55.7 27.4L-54.1 25.5L-53.6 26.9ZM-68.6 52.6L-68.6 54.9L-67 54'
    '.9L-68.1 55.6L-71 55.1L-74.7 52.8L-71.1 54.1L-70.3 52.9ZM-69.6 17.6L-68.4 19.4L-67.8 22.9L-67 23'
    'L-68.4 24.5L-68.3 26.9L-69.7 28.5L-70.5 31.4L-69.8 34.2L-71.1 36.7L-70.8 38.6L-72.1 42.3L-71.2 4'
    '4.8L-72.3 48.2L-73.4 49.3L-71.9 52L-68.6 52.3L-70.8 52.9L-71.4 53.9L-74.9 52.3L-75.6 48.7L-74.1 '
    '46.9L-75.6 46.6L-74.4 44.1L-73.2 44.5L-72.7 42.4L-73.4 42.1L-73.7 43.4L-74.3 43.2L-73.2 39.3L-73'
    '.6 37.2L-71.4 32.4L-70.1 21.4L-70.4 18.3ZM29.3 4.5L30.7 8.3L28.7 8.5L28.4 11.8L29.6 12.2L29.7 13'
    '.3L27.2 11.6L22.2 11.1L21.7 7.3L20.1 6.9L19 8L17.5 8.1L16.3 5.9L12.2 5.8L13.6 4.5L14.6 5L16 3.5L'
    '17.6 0.4L18.5 -4.2L19.5 -5L22.4 -4L25.7 -5.3L27.4 -5.2L28.4 -4.3L29.7 -4.6L31.2 -2.2L29.9 -0.6ZM'
    '41.6 1.7L41 -2.8L42.1 -4.2L45 -5L48.9 -9.5L48.9 -11.4L51.1 -12L48.6 -5.3ZM39.2 4.7L33.9 1L35 -1.'
    '9L34 -4.2L35.3 -5.5L38.1 -3.6L41.9 -3.9L41 -2.8L41.6 1.7ZM24.6 -8.2L23.5 -9L23.6 -10.1L21.9 -12.'
    '6L23 -15.7L23.9 -15.6L23.9 -20L25 -20L25 -22L36.9 -22L37.5 -18.6L38.4 -18L36.9 -17L36.3 -13.6L34'
    '.3 -10.6L34 -8.7L32.7 -12.2L31.4 -9.8L30 -10.3L29 -9.4L26.8 -9.5L25.1 -10.3L23.9 -8.6ZM23.8 -19.'
    '6L23.9 -15.6L23 -15.7L21.9 -12.6L22.9 -11.1L18 -7.9L15.3 -7.4L14 -9.5L15.5 -10L14.6 -13.3L13.5 -'
    '14.4L15.2 -16.6L15.9 -20.4L14.9 -22.9L15.9 -23.4ZM-71.7 -19.7L-71.7 -18L-74.5 -18.3L-72.3 -18.7L'
    '-73.2 -19.9ZM-71.7 -18L-71.6 -19.9L-68.3 -18.6ZM48.6 -45.8L46.7 -44.6L48.6 -41.8L47.8 -41.2L45.5'
    ' -42.5L40 -43.4L36.7 -45.2L38.2 -46.2L37.7 -46.6L39.1 -47L38.3 -47.5L39.7 -47.9L40.1 -49.6L35.4 '
    '-50.6L33.8 -52.3L31.8 -52.1L31.3 -53.1L32.7 -53.4L30.8 -54.8L30.9 -55.6L28.2 -56.2L27.3 -57.5L27'
    '.4 -58.7L29.1 -60L28.1 -60.5L31.5 -62.9L30 -63.6L30.4 -64.2L29.5 -64.9L30.2 -65.8L29.1 -66.9L30 '
    '-67.7L28.4 -68.4L28.6 -69.1L32.1 -69.9L41.1 -67.5L41.1 -66.8L38.4 -66L33.2 -66.6L34.8 -65.9L34.9'
    ' -64.4L37 -63.8L36.5 -64.8L37.2 -65.1L39.6 -64.5L40.4 -64.8L39.8 -65.5L42.1 -66.5L43.9 -66.1L44.'
    '5 -66.8L43.5 -68.6L46.3 -68.2L46.8 -67.7L45.6 -67L46.3 -66.7L53.7 -68.9L54.5 -68.8L53.5 -68.2L58'
    '.8 -68.9L59.9 -68.3L61.1 -68.9L60 -69.5L60.6 -69.9L68.5 -68.1L69.2 -68.6L66.9 -69.5L66.7 -71L69.'
    '9 -73L72.8 -72.2L71.8 -71.4L72.8 -70.4L72.6 -69L73.7 -68.4L71.3 -66.3L72.4 -66.2L75.1 -67.8L74.5'
    ' -68.3L74.9 -69L73.6 -69.6L74.4 -70.6L73.1 -71.4L74.9 -72.1L74.7 -72.8L75.7 -72.3L75.3 -71.3L76.'
    '4 -71.2L75.9 -71.9L77.6 -72.3L81.5 -71.8L80.5 -73.6L86.8 -73.9L86 -74.5L87.2 -75.1L100.8 -76.4L1'
    '04.4 -77.7L107.2 -76.5L111.1 -76.7L114.1 -75.8L109.4 -74.2L123.2 -73L123.3 -73.7L127 -73.6L128.6'
    ' -73L129.1 -72.4L128.5 -72L131.3 -70.8L132.3 -71.8L139.9 -71.5L139.1 -72.4L140.5 -72.8L149.5 -72'
    '.2L153 -70.8L159 -70.9L159.7 -69.7L160.9 -69.4L167.8 -69.6L169.6 -68.7L170.8 -69L170 -69.7L170.5'
    ' -70.1L180 -69L180 -65L177.4 -64.6L179.4 -63L179.2 -62.3L173.7 -61.7L170.3 -59.9L168.9 -60.6L163'
    '.5 -59.9L162 -58.2L163.2 -57.6L163.1 -56.2L161.7 -55.3L162.1 -54.9L160.4 -54.3L160 -53.2L158.5 -'
    '53L156.8 -51L155.4 -55.4L155.9 -56.8L163.7 -61.1L164.5 -62.6L160.1 -60.5L159.3 -61.8L156.7 -61.4'
    'L154.2 -59.8L155 -59.1L151.3 -58.8L151.3 -59.5L149.8 -59.7L142.2 -59L135.1 -54.7L138.2 -53.8L139'
    '.9 -54.2L141.3 -53.1L140.1 -48.4L134.9 -43.4L133.5 -42.8L132.3 -43.3L130.8 -42.2L131 -45L133.1 -'
    '45.1L135 -48.5L131 -47.8L129.4 -49.4L127.7 -49.8L125.9 -52.8L123.6 -53.5L120.2 -52.8L120.7 -52L1'
    '17.9 -49.5L114.4 -50.2L110.7 -49.1L108.5 -49.3L106.9 -50.3L103.7 -50.1L98.9 -52L97.3 -49.7L92.2 '
    '-50.8L87.4 -49.2L83.4 -51.1L80 -50.9L76.9 -54.5L73.4 -53.5L73.5 -54L71.2 -54.1L70.9 -55.2L69.1 -'
    '55.4L61.4 -54L61 -53.7L61.7 -53L60 -52L61.6 -51.3L61.3 -50.8L55.7 -50.6L50.8 -51.7L48.6 -49.9L47'
    '.5 -50.5L46.5 -48.4L48.7 -47.1ZM95.9 -81.3L100.2 -79.8L99.9 -78.9L95 -79L91.2 -80.3ZM105.4 -78.7'
    'L99.4 -77.9L102.1 -79.3ZM141.5 -76.1L145.1 -75.6L144.3 -74.8L139 -74.6L137 -75.3L137.5 -75.9ZM14'
    '0.8 -73.8L143.6 -73.2L139.9 -73.4ZM46.8 -80.8L51.5 -80.7L47.6 -80L44.8 -80.6ZM20.9 -54.3L19.7 -5'
    '4.4L21.3 -55.2L22.8 -54.9L22.7 -54.3ZM55.9 -74.6L55.6 -75.1L61.2 -76.3L68.9 -76.5L58.5 -74.3L55.'
    '4 -72.4L55.6 -71.5L57.5 -70.7L51.6 -71.5L52.4 -72.8L54.4 -73.6L53.5 -73.7ZM143.3 -52.7L144.7 -49'
    'L143.2 -49.3L142.6 -47.9L143.5 -46.1L142.7 -46.7L142.1 -46L142.2 -51L141.6 -51.9L141.7 -53.3L142'
    '.6 -53.8L142.2 -54.2ZM-175 -66.6L-171.9 -66.9L-169.9 -66L-172.5 -65.4L-173 -64.3L-178.4 -65.4L-1'
    '78.7 -66.1L-179.9 -65.9L-179.4 -65.4L-180 -65L-180 -69L-174.9 -67.2ZM-180 -70.8L-179.9 -71.6L-17'
    '7.6 -71.3ZM-61.2 51.9L-58.6 51.1L-57.8 51.5L-59.4 52.2ZM15.1 -79.7L17 -80.1L21.5 -79L19 -78.6L17'
    '.1 -76.8L15.9 -76.8L10.4 -79.7ZM31.1 -69.6L28.6 -69.1L29 -69.8L27.7 -70.2L24.7 -68.6L21.2 -69.4L'
    '19.9 -68.4L18 -68.6L13.6 -64.8L13.6 -64L12.6 -64.1L11.9 -63.1L12.3 -60.1L11 -58.9L10.4 -59.5L8.4'
    ' -58.3L5.7 -58.6L5 -62L19.2 -69.8L28.2 -71.2L31.3 -70.5L30 -70.2ZM27.4 -80.1L23 -79.4L17.4 -80.3'
    'ZM24.7 -77.9L20.7 -77.7L21.4 -77.9L20.8 -78.3L22.9 -78.5ZM-46.8 -82.6L-38.6 -83.5L-27.1 -83.5L-2'
    '0.8 -82.7L-31.9 -82.2L-22.1 -81.7L-23.2 -81.2L-15.8 -81.9L-12.2 -81.3L-20 -80.2L-17.7 -80.1L-19.'
    '7 -78.8L-19.7 -77.6L-18.5 -77L-21.7 -76.6L-19.8 -76.1L-19.6 -75.2L-20.7 -75.2L-19.4 -74.3L-23.6 '
    '-73.3L-22.3 -72.2L-24.8 -72.3L-22.1 -71.5L-21.8 -70.7L-23.5 -70.5L-25.5 -71.4L-25.2 -70.8L-26.4 '
    '-70.2L-22.3 -70.1L-39.8 -65.5L-41.2 -63.5L-42.8 -62.7L-42.4 -61.9L-43.4 -60.1L-48.3 -60.9L-51.6 '
    '-63.6L-54 -67.2L-50.9 -69.9L-54.7 -69.6L-54.4 -70.8L-51.4 -70.6L-55.8 -71.7L-54.7 -72.6L-58.6 -7'
    '5.5L-68.5 -76.1L-71.4 -77L-66.8 -77.4L-73.3 -78L-65.7 -79.4L-65.3 -79.8L-68 -80.1L-62.2 -81.3L-6'
    '2.7 -81.8L-50.4 -82.4L-44.5 -81.7ZM68.9 48.6L70.6 49.3L68.7 49.8ZM125 8.9L127.3 8.4L125.1 9.4ZM1'
    '6.3 28.6L16.8 28.1L18.5 29L19.9 28.5L19.9 24.8L20.9 26.8L21.6 26.7L23.3 25.3L25.7 25.5L29.4 22.1'
    'L31.2 22.3L31.9 24.4L31.8 25.8L31 25.7L30.7 26.7L31.3 27.3L32.8 26.7L32.2 28.8L28.2 32.8L25.8 33'
    '.9L22.6 33.9L20.1 34.8L18.4 34.1L18.2 31.7ZM29 29L27 29.9L28.1 30.5ZM29 29L28.1 30.5L27 29.9ZM-1'
    '17.1 -32.5L-114.7 -32.7L-111 -31.3L-106.5 -31.8L-103.9 -29.3L-101.7 -29.8L-99 -26.4L-97.1 -25.9L'
    '-97.9 -22.4L-95.9 -18.8L-94.4 -18.1L-91.4 -18.9L-90.3 -21L-87.1 -21.5L-87.8 -18.3L-91 -17.8L-91.'
    '5 -17.3L-90.5 -16.1L-91.7 -16.1L-92.2 -14.5L-93.9 -15.9L-96.6 -15.7L-103.5 -18.3L-105.5 -19.9L-1'
    '06 -22.8L-112.2 -29L-113.1 -31.2L-114.9 -31.4L-109.4 -23.4L-109.9 -22.8L-112.2 -24.7L-112.3 -26L'
    '-115.1 -27.7L-114.2 -28.6ZM-57.6 30.2L-53.8 32L-53.2 32.7L-53.8 34.4L-56.2 34.9L-58.4 33.9ZM-53.'
    '4 33.8L-53.8 32L-57.6 30.2L-53.6 26.9L-53.6 26.1L-54.6 25.7L-54.3 24L-55.4 24L-55.8 22.4L-57.9 2'
    '2.1L-57.5 18.2L-58.2 16.3L-60.2 16.3L-60.5 13.8L-65.4 11.6L-65.3 9.8L-68.3 11L-70.5 11L-70.5 9.5'
    'L-72.2 10.1L-73.2 9.5L-74 7.5L-72.9 5.3L-69.9 4.3L-69.4 1.1L-70 -0.5L-69.2 -1L-69.8 -1.7L-67.5 -'
    '2L-67.1 -1.1L-65.5 -0.8L-63.4 -2.2L-64.3 -2.5L-64.8 -4.1L-63.1 -3.8L-60.7 -5.2L-60 -5L-60 -2.8L-'
    '59 -1.3L-56 -1.8L-56 -2.5L-52.9 -2.1L-51.3 -4.2L-50 -1.7L-50.4 0.1L-48.6 0.2L-48.6 1.2L-47.8 0.6'
    'L-44.9 1.6L-44.6 2.7L-40 2.9L-35.6 5.1L-34.7 7.3L-35.1 9L-38.7 13.1L-39.3 17.9L-40.9 21.9L-42 23'
    'L-47.6 24.9L-48.9 28.7ZM-69.5 11L-65.3 9.8L-65.4 11.6L-60.5 13.8L-60.2 16.3L-58.2 16.3L-57.5 18.'
    '2L-57.9 20L-59.1 19.4L-61.8 19.6L-62.7 22.2L-64 22L-64.4 22.8L-66.3 21.8L-67.8 22.9L-68.4 19.4L-'
    '69.6 17.6L-68.7 12.6ZM-69.9 4.3L-72.9 5.3L-74 7.5L-73.2 9.5L-72.2 10.1L-70.5 9.5L-70.5 11L-69.5 '
    '11L-68.7 12.6L-69 16.5L-70.4 18.3L-76 14.6L-79.8 7.2L-81.2 6.1L-81.4 4.7L-80.3 3.4L-80.4 4.4L-78'
    '.6 4.5L-77.8 3L-75.5 1.6L-75.1 0.1L-73.1 2.3L-70 2.7L-70.7 3.7ZM-66.9 -1.3L-67.5 -2L-69.8 -1.7L-'
    '69.2 -1L-70 -0.5L-69.4 1.1L-69.9 4.3L-70.7 3.7L-70 2.7L-73.1 2.3L-75.1 0.1L-77.4 -0.4L-79 -1.7L-'
    '77.1 -3.8L-77.9 -7.2L-77.5 -8.5L-75.7 -9.4L-74.9 -11.1L-71.4 -12.4L-73.3 -9.2L-72 -7L-67.3 -6.1L'
    '-67.8 -2.8ZM-77.4 -8.7L-77.9 -7.2L-79.1 -9L-80.9 -7.2L-82.9 -8.1L-82.9 -9.5L-81.4 -8.8L-79 -9.6Z'
    'M-82.5 -9.6L-83 -8.2L-85.7 -9.9L-85.9 -10.9L-83.7 -10.9ZM-83.7 -10.9L-85.7 -11.1L-87.7 -12.9L-84'
    '.9 -14.8L-83.1 -15ZM-83.1 -15L-84.9 -14.8L-87.3 -13L-89.4 -14.4L-87.9 -15.9L-85 -16ZM-89.4 -14.4'
    'L-87.7 -13.8L-87.9 -13.1L-90.1 -13.7ZM-92.2 -14.5L-91.7 -16.1L-90.5 -16.1L-91.5 -17.3L-91 -17.8L'
    '-89.1 -17.8L-89.2 -15.9L-88.2 -15.7L-89.4 -14.4L-90.1 -13.7ZM-89.1 -17.8L-88.1 -18.3L-88.9 -15.9'
    'ZM-60.7 -5.2L-63.1 -3.8L-64.8 -4.1L-64.3 -2.5L-63.4 -2.2L-66.3 -0.7L-67.8 -2.8L-67.3 -6.1L-72 -7'
    'L-73.3 -9.2L-72.9 -10.5L-71.3 -11.8L-72.1 -9.9L-71.3 -9.1L-71.4 -11L-69.9 -12.2L-68.2 -10.6L-64.'
    '9 -10.1L-61.9 -10.7L-62.7 -10.4L-59.8 -8.4L-61.4 -6ZM-56.5 -1.9L-58.5 -1.3L-59.6 -1.8L-60 -5L-61'
    '.4 -6L-59.8 -8.4L-57.1 -6L-58 -4.1ZM-54.5 -2.3L-56.5 -1.9L-57.6 -3.3L-58 -4.1L-57.1 -6L-54 -5.8Z'
    'M-51.7 -4.2L-52.9 -2.1L-54.5 -2.3L-54 -5.8ZM6.2 -49.5L8.1 -49L6 -46.7L7.4 -43.7L1.8 -42.3L-1.9 -'
    '43.4L-1.2 -46L-4.5 -48L-4.6 -48.7L-1.6 -48.6L-1.9 -49.8L-1 -49.3L2.5 -51.1ZM8.7 -42.6L9.4 -43L9.'
    '2 -41.4ZM-75.4 0.2L-75.5 1.6L-77.8 3L-78.6 4.5L-80.4 4.4L-79.8 2.7L-81 2.2L-80.9 1.1L-80.1 -0.8L'
    '-78.9 -1.4ZM-77.6 -18.5L-76.2 -17.9L-78.3 -18.2ZM-82.3 -23.2L-78.3 -22.5L-74.2 -20.3L-77.8 -19.9'
    'L-77.1 -20.4L-78.7 -21.6L-81.8 -22.6L-85 -21.9ZM31.2 22.3L28 21.5L25.3 17.7L27 17.9L30.3 15.5L32'
    '.8 16.7L32.7 20.3ZM29.4 22.1L25.7 25.5L23.3 25.3L21.6 26.7L20.9 26.8L19.9 24.8L19.9 21.8L20.9 21'
    '.8L20.9 18.3L25.3 17.7L28 21.5ZM19.9 24.8L19.9 28.5L18.5 29L16.8 28.1L16.3 28.6L15.2 27.1L14.3 2'
    '2.1L11.7 17.3L25.1 17.6L20.9 18.3L20.9 21.8L19.9 21.8ZM-16.7 -13.6L-17.6 -14.7L-16.1 -16.5L-14.6'
    ' -16.6L-12.2 -14.6L-11.5 -12.4L-16.7 -12.4L-16.8 -13.2L-13.8 -13.5ZM-11.5 -12.4L-12.2 -14.6L-11.'
    '7 -15.4L-5.5 -15.5L-6.5 -25L-4.9 -25L3.1 -19.7L3.2 -19.1L4.3 -19.2L3.6 -15.6L-1.1 -15L-4 -13.5L-'
    '5.4 -10.4L-8 -10.2L-9.1 -12.3L-10.2 -11.8ZM-17.1 -21L-12.9 -21.3L-12.9 -23.3L-11.9 -23.4L-12 -25'
    '.9L-8.7 -25.9L-8.7 -27.4L-4.9 -25L-6.5 -25L-5.5 -15.5L-11.7 -15.4L-12.2 -14.6L-14.6 -16.6L-16.5 '
    '-16.1L-16.3 -20.1ZM2.7 -6.3L1.9 -6.1L1.7 -9.1L0.8 -10.5L2.8 -12.2L3.8 -10.7L2.7 -8.5ZM14.9 -22.9'
    'L15.9 -20.4L15.2 -16.6L13.5 -14.4L14.6 -13.3L14.2 -12.5L13.1 -13.6L9 -12.8L5.4 -13.9L4.1 -13.5L3'
    '.6 -11.7L1 -12.9L0.4 -14.9L3.6 -15.6L4.3 -19.2L12 -23.5L14.1 -22.5ZM2.7 -6.3L4.4 -13.7L9 -12.8L1'
    '3.1 -13.6L14.6 -12.1L11.7 -7L9.2 -6.4L8.5 -4.8L5.9 -4.3L4.3 -6.3ZM14.5 -12.9L15.5 -10L14 -9.5L15'
    '.4 -7.7L14.5 -4.7L15.9 -1.7L9.6 -2.3L8.5 -4.5L8.8 -5.5L10.1 -7L11.7 -7ZM0.9 -11L1.9 -6.1L1.1 -5.'
    '9L0 -10.7ZM0 -11L1.1 -5.9L-2.9 -5L-2.9 -11ZM-8 -10.2L-6.2 -10.5L-2.8 -9.6L-2.9 -5L-7.7 -4.4L-7.6'
    ' -5.7L-8.6 -6.5ZM-13.7 -12.6L-10.2 -11.8L-9.1 -12.3L-8 -10.2L-8.3 -7.7L-9.2 -7.3L-9.8 -8.5L-10.5'
    ' -8.3L-11.1 -10L-13.2 -8.9L-15.1 -11ZM-16.7 -12.4L-13.7 -12.6L-13.7 -11.8L-15.1 -11ZM-8.4 -7.7L-'
    '7.7 -4.4L-11.4 -6.8L-10.2 -8.4L-9.2 -7.3ZM-13.2 -8.9L-11.1 -10L-10.2 -8.4L-11.4 -6.8ZM-5.4 -10.4'
    'L-4.3 -13.2L-1.1 -15L0.4 -14.9L1 -12.9L2.2 -12.6L0.9 -11L-2.9 -11L-2.8 -9.6ZM27.4 -5.2L24.4 -5.1'
    'L22.4 -4L19.5 -5L18.5 -3.5L17.1 -3.7L16 -2.3L14.5 -5.5L15.3 -7.4L18 -7.9L22.9 -11.1L23.5 -9ZM18.'
    '5 -3.5L17.6 0.4L16 3.5L14.6 5L12.6 4.4L11.9 5L11.1 4L11.9 3.4L11.5 2.8L12.6 1.9L14 2.5L14.4 1.3L'
    '13.8 0L14.3 -1.2L13.3 -1.3L13.1 -2.3L15.9 -1.7L17.1 -3.7ZM11.3 -2.3L13 -2.3L13.3 -1.3L14.3 -1.2L'
    '13.8 0L14.4 1.3L14 2.5L12.6 1.9L11.5 2.8L11.9 3.4L11.1 4L8.8 1.1L9.5 -1L11.3 -1.1ZM9.6 -2.3L11.3'
    ' -2.3L11.3 -1.1L9.5 -1ZM30.7 8.3L33.2 9.7L32.7 13.7L33.2 14L30.2 14.8L30.3 15.5L27 17.9L23.2 17.'
    '5L21.9 16.1L21.9 12.9L24 12.9L23.9 10.9L27.2 11.6L29.7 13.3L29.6 12.2L28.4 11.8L28.4 9.2L29 8.4Z'
    'M32.8 9.2L34.3 10.2L34.6 13.6L35.7 14.6L35 16.8L34.5 14.6L32.7 13.7L33.5 10.5ZM34.6 11.5L37.5 11'
    '.6L40.3 10.3L40.8 14.7L39.5 16.7L34.8 19.8L35.5 24.1L33 25.4L32.8 26.7L32.1 26.7L31.2 22.3L32.7 '
    '20.3L32.8 16.7L30.3 15.9L30.2 14.8L33.2 14L34.5 14.6L35 16.8L35.7 14.6L34.6 13.6ZM32.1 26.7L31.3'
    ' 27.3L30.7 26.7L31 25.7ZM12.3 6.1L16.3 5.9L17.5 8.1L19 8L20.1 6.9L21.7 7.3L22.2 11.1L24 11.2L24 '
    '12.9L21.9 12.9L21.9 16.1L23.2 17.5L11.7 17.3L13.7 11.3ZM30.5 2.4L30.8 3.4L29.3 4.5L29 2.8ZM35.7 '
    '-32.7L35 -31.9L34.9 -29.5L34.3 -31.2L35.1 -33.1L35.8 -33.3ZM49.5 12.5L50.4 15.7L49.7 15.7L47.1 2'
    '4.9L45.4 25.6L44 25L43.3 22.8L44.5 19.4L44 17.4L44.4 16.2L46.3 15.8L49.2 12ZM9.5 -30.3L7.5 -34.1'
    'L8.4 -36.9L9.5 -37.3L10.2 -36.7L11 -37.1L10.1 -34.3L11.5 -33.1ZM-8.7 -27.4L-8.7 -28.8L-1.3 -32.3'
    'L-2.2 -35.2L-1.2 -35.7L1.5 -36.6L8.4 -36.9L7.5 -34.1L9.1 -32.1L9.8 -29.4L9.3 -26.1L10.3 -24.4L12'
    ' -23.5L5.7 -19.6L3.2 -19.1L3.1 -19.7ZM35.5 -32.4L38.8 -33.4L39.2 -32.2L37 -31.5L38 -30.5L36.1 -2'
    '9.2L34.9 -29.5ZM51.6 -24.2L54 -24.1L56.3 -25.7L55 -22.5L52 -23ZM50.8 -24.8L51.3 -26.1L51.6 -25.2'
    'ZM48 -30L48.4 -28.6L46.6 -29.1ZM39.2 -32.2L38.8 -33.4L41 -34.4L41.3 -36.4L42.8 -37.4L44.8 -37.2L'
    '46.1 -35.7L45.4 -34L47.3 -32.5L48.6 -29.9L44.7 -29.2ZM55.2 -22.7L56.4 -24.9L59.8 -22.3L57.8 -20.'
    '2L57.7 -18.9L53.1 -16.7L52 -19L55 -20L55.7 -22ZM102.6 -12.2L103 -14.2L106 -13.9L106.5 -14.6L107.'
    '6 -13.5L107.5 -12.3L105.8 -11.6L106.2 -11L103.5 -10.6ZM105.2 -14.3L103 -14.2L102.6 -12.2L100.1 -'
    '13.4L99.2 -9.2L102.1 -6.2L101.2 -5.7L98.2 -8.4L99.6 -11.9L98.2 -15.1L98.9 -16.2L97.4 -18.4L98.3 '
    '-19.7L100.1 -20.4L101.3 -19.5L101.1 -17.5L103.2 -18.3L104.7 -17.4L105.6 -15.6ZM107.4 -14.2L105.2'
    ' -14.3L105.6 -15.6L104 -18.2L101.1 -17.5L101.3 -19.5L100.1 -20.4L101.8 -21.2L101.7 -22.3L103.2 -'
    '20.8L104.4 -20.8L104.8 -19.9L103.9 -19.3L107.3 -15.9ZM100.1 -20.4L98.3 -19.7L97.4 -18.4L98.9 -16'
    '.2L98.2 -15.1L99.6 -11.9L98.6 -9.9L98.5 -13.1L97.2 -16.9L95.4 -15.7L94.2 -16L94.3 -18.2L92.3 -21'
    '.5L95.1 -26.6L97.1 -27.1L97.3 -28.3L98.7 -27.5L97.6 -23.9L98.7 -24.1L99.5 -22.9L99.2 -22.1L101.2'
    ' -21.8ZM104.3 -10.5L106.2 -11L105.8 -11.6L107.5 -12.3L107.6 -15.2L103.9 -19.3L104.8 -19.9L104.4 '
    '-20.8L103.2 -20.8L102.2 -22.5L105.3 -23.4L108.1 -21.6L105.7 -19.1L108.9 -15.3L109.2 -11.7L105.2 '
    '-8.6ZM130.6 -42.4L129.7 -40.9L127.5 -39.8L128.2 -38.4L124.7 -38.1L125.4 -39.4L124.3 -39.9L125.1 '
    '-40.6L126.9 -41.8L128.2 -41.5L128.1 -42L130 -43ZM126.2 -37.7L128.3 -38.6L129.5 -36.8L129.1 -35.1'
    'L126.5 -34.4L126.1 -36.7L126.9 -36.9ZM87.8 -49.3L92.2 -50.8L97.3 -49.7L98.9 -52L103.7 -50.1L106.'
    '9 -50.3L108.5 -49.3L110.7 -49.1L114.4 -50.2L116.7 -49.9L115.7 -47.7L118.1 -48.1L119.8 -47L113.5 '
    '-44.8L111.9 -45.1L111.3 -44.5L111.8 -43.7L110.4 -42.9L105 -41.6L100.8 -42.7L96.3 -42.7L95.3 -44.'
    '2L90.9 -45.3L91 -46.9ZM97.3 -28.3L97.1 -27.1L95.1 -26.6L92.7 -22L92.1 -23.6L91.7 -23L91.2 -23.5L'
    '92.4 -25L89.9 -25.3L88.6 -26.4L88.2 -25.8L88.9 -25.2L88.1 -24.5L88.7 -24.2L88.9 -21.7L87 -21.5L8'
    '6.5 -20.2L82.2 -16.6L80.3 -15.9L79.9 -10.4L77.5 -8L73.5 -16L72.6 -21.4L70.5 -20.9L68.2 -23.7L71 '
    '-24.4L69.5 -26.9L70.6 -28L71.8 -27.9L75.3 -32.3L73.7 -34.3L76.9 -34.7L77.8 -35.5L78.9 -34.3L78.7'
    ' -31.5L81.1 -30.2L80.1 -28.8L83.3 -27.4L88.1 -26.4L88.7 -28.1L88.8 -27.1L89.7 -26.7L92 -26.8L91.'
    '7 -27.8L96.1 -29.5L96.2 -28.4ZM92.7 -22L92.4 -20.7L91.4 -22.8L90.5 -22.8L90.3 -21.8L89 -22.1L88.'
    '1 -24.5L88.9 -25.2L88.2 -25.8L88.6 -26.4L89.9 -25.3L92.4 -25L91.2 -23.5L91.7 -23L92.1 -23.6ZM91.'
    '7 -27.8L92 -26.8L88.8 -27.1L90 -28.3ZM88.1 -27.9L88.1 -26.4L87.2 -26.4L80.1 -28.8L81.5 -30.4L85.'
    '8 -28.2ZM77.8 -35.5L76.9 -34.7L73.7 -34.3L75.3 -32.3L71.8 -27.9L70.6 -28L69.5 -26.9L71 -24.4L68.'
    '2 -23.7L66.4 -25.4L61.5 -25.1L61.9 -26.2L63.3 -26.8L60.9 -29.8L62.5 -29.3L66.3 -29.9L66.9 -31.3L'
    '69.3 -31.9L71.8 -36.5L75.2 -37.1L76.2 -35.9ZM66.5 -37.4L69.2 -37.2L70.8 -38.5L71.8 -36.7L73.3 -3'
    '7.5L75.2 -37.1L71.3 -36.1L71.6 -35.2L70.9 -34L69.9 -34L70.3 -33.4L69.3 -31.9L66.9 -31.3L66.3 -29'
    '.9L62.5 -29.3L60.9 -29.8L61.8 -30.7L60.5 -33L61.2 -35.7L63 -35.4L64.7 -37.1ZM67.8 -37.1L68.4 -38'
    '.2L67.7 -39.6L70.7 -41L71 -40.2L69.5 -39.5L73.7 -39.4L75 -37.4L71.8 -36.7L70.8 -38.5L69.2 -37.2Z'
    'M71 -42.3L73.5 -42.5L74.2 -43.3L80.3 -42.3L73.7 -39.4L69.5 -39.5L69.6 -40.1L73.1 -40.9L70.4 -41.'
    '5ZM52.5 -41.8L54.1 -42.3L55.5 -41.3L57.1 -41.3L58.6 -42.8L66.5 -38L66.5 -37.4L65.7 -37.7L62.2 -3'
    '5.3L61.2 -35.7L61.1 -36.5L57.3 -38L53.9 -37.2L53.9 -39L52.7 -40L52.9 -40.9L54.7 -41L53.7 -42.1L5'
    '2.8 -41.1ZM48.6 -29.9L47.3 -32.5L45.4 -34L46.1 -35.7L44.2 -38L44.1 -39.4L46.1 -38.7L48.1 -39.6L4'
    '9.2 -37.6L50.8 -36.9L53.8 -37L56.6 -38.1L61.1 -36.5L60.5 -33L61.8 -30.7L60.9 -29.8L63.3 -26.8L61'
    '.9 -26.2L61.5 -25.1L57.4 -25.7L57 -27L53.5 -26.8L51.5 -27.9L50.1 -30.1ZM35.7 -32.7L36.6 -34.2L35'
    '.9 -35.4L36.7 -36.8L42.3 -37.2L41.3 -36.4L41 -34.4L36.8 -32.3ZM46.5 -38.8L43.7 -40.3L43.6 -41.1L'
    '45.6 -40.8ZM11 -58.9L12.6 -61.3L11.9 -63.1L12.6 -64.1L13.6 -64L16.8 -68L20.6 -69.1L23.5 -67.9L23'
    '.9 -66L22.2 -65.7L21.4 -64.4L17.8 -62.7L17.1 -61.3L18.8 -60.1L16.8 -58.7L15.9 -56.1L12.9 -55.4ZM'
    '28.2 -56.2L30.9 -55.6L30.8 -54.8L32.7 -53.4L31.3 -53.1L31.8 -52.1L30.6 -51.3L23.5 -51.6L23.5 -53'
    '.9L25.5 -54.3L26.5 -55.6ZM32.2 -52.1L33.8 -52.3L35.4 -50.6L40.1 -49.6L39.7 -47.9L35 -46.3L36.3 -'
    '45.1L33.9 -44.4L32.5 -45.3L33.6 -45.9L31.7 -46.7L29.6 -45.3L28.2 -45.5L28.9 -46.4L30 -46.4L28.7 '
    '-48.1L24.9 -47.7L22.1 -48.4L23.9 -50.4L23.5 -51.6L30.6 -51.3ZM23.5 -53.9L23.8 -52.7L23.2 -52.5L2'
    '4 -50.7L22.8 -49L16.2 -50.4L14.1 -53L14.1 -53.8L17.6 -54.9ZM17 -48.1L16 -46.7L14.6 -46.4L9.5 -47'
    '.1L12.9 -47.5L13.6 -48.9L16.5 -48.8ZM22.1 -48.4L22.7 -47.9L21 -46.3L18.5 -45.8L16.2 -46.9L17 -48'
    '.1ZM26.6 -48.2L28.7 -48.1L30 -46.4L28.9 -46.4L28.2 -45.5L28.1 -46.8ZM28.2 -45.5L29.6 -45.3L28.6 '
    '-43.7L22.9 -43.8L20.2 -46.1L23.1 -48.1L26.6 -48.2L28.1 -46.8ZM26.5 -55.6L25.5 -54.3L23.5 -53.9L2'
    '1.1 -56L24.9 -56.4ZM27.3 -57.5L28.2 -56.2L26.5 -55.6L24.9 -56.4L21.1 -56L22.5 -57.8L23.3 -57L25.'
    '2 -58ZM28 -59.5L27.3 -57.5L24.3 -57.8L23.3 -59.2ZM14.1 -53.8L15 -51.1L12.2 -50.3L13.6 -48.9L12.9'
    ' -47.5L7.5 -47.6L8.1 -49L6.7 -49.2L6 -50.1L6 -51.9L6.8 -52.2L7.1 -53.7L8.1 -53.5L8.8 -54L8.5 -55'
    'L9.9 -55L10.9 -54L12.5 -54.5ZM22.7 -44.2L28.6 -43.7L28 -42L23 -41.3ZM23 -41.3L26.6 -41.6L26.1 -4'
    '0.8L23.7 -40.7L24.4 -40.1L22.6 -40.3L24 -37.7L23.1 -37.9L23.2 -36.4L22.5 -36.4L20.2 -39.6L21 -40'
    '.8ZM44.8 -37.2L36.7 -36.8L36.1 -35.8L36.2 -36.7L34.7 -36.8L29.7 -36.1L27.6 -36.7L26.2 -39.5L29.2'
    ' -41.2L33.5 -42L38.3 -40.9L42.6 -41.6L44.8 -39.7L44.1 -39.4ZM26.1 -41.8L28 -42L29 -41.3L26.4 -40'
    '.2ZM21 -40.8L20.2 -39.6L19.4 -40.3L19.7 -42.7ZM16.6 -46.5L19.4 -45.2L15.8 -44.8L18.5 -42.5L16 -4'
    '3.5L14.9 -45.1L13.7 -45.1ZM9.6 -47.5L10.4 -46.5L7.3 -45.8L6 -46.3L6.7 -47.5ZM6.2 -50.8L5.7 -49.5'
    'L2.5 -51.1L5 -51.5ZM6.9 -53.5L6.2 -50.8L3.3 -51.3L4.7 -53.1ZM-9 -41.9L-8.3 -42.3L-6.4 -41.4L-7.5'
    ' -39.6L-7 -38.1L-7.9 -36.8L-8.9 -36.9L-8.8 -38.3L-9.5 -38.7ZM-7.5 -37.1L-7.5 -39.6L-6.4 -41.4L-8'
    '.3 -42.3L-9 -41.9L-9.4 -43L-8 -43.7L3 -42.5L2.1 -41.2L0.8 -41L-0.3 -39.3L0.1 -38.7L-2.1 -36.7L-5'
    '.4 -35.9ZM-6.2 -53.9L-6.8 -52.3L-10 -51.8L-9.2 -52.9L-9.7 -53.9L-7.6 -55.1L-7.6 -54.1ZM165.8 21.'
    '1L167.1 22.2L165.5 21.7L164 20.1ZM176.9 40.1L176 41.3L174.7 41.3L175.2 40.5L173.8 39.5L174.7 37.'
    '4L172.6 34.5L174.3 35.3L176 37.6L178.5 37.7ZM169.7 43.6L172.8 40.5L174.2 41.3L172.7 43.4L173.1 4'
    '3.9L171.5 44.2L170.6 45.9L169.3 46.6L166.7 46.2L167 45.1ZM147.7 40.8L148.3 40.9L147.9 43.2L146 4'
    '3.5L144.7 40.7ZM126.1 32.2L123.7 33.9L119.9 34L118 35.1L115 34.2L115.8 32.2L113.3 26.1L113.8 26.'
    '5L113.4 25.6L114.2 26.3L113.4 24.4L113.7 22.5L116.7 20.7L120.9 19.7L123 16.4L123.9 17.1L123.5 16'
    '.6L125.7 14.2L127.1 13.8L129.6 15L130.6 12.5L132.6 12.1L131.8 11.3L132.4 11.1L135.3 12.2L136.5 1'
    '1.9L137 12.4L135.5 15L140.2 17.7L141.3 16.4L142.5 10.7L143.9 14.5L144.6 14.2L145.4 15L146.4 19L1'
    '48.8 20.4L149.7 22.3L150.7 22.4L152.9 25.3L153.6 28.1L152.9 31.6L150 37.4L146.3 39L145 37.9L143.'
    '6 38.8L140.6 38L139.6 36.1L138.1 35.6L138.2 34.4L136.8 35.3L137.8 32.9L136 34.9L134.3 32.6L131.3'
    ' 31.5ZM81.8 -7.5L81.6 -6.5L80.3 -6L79.7 -8.2L80.1 -9.8ZM109.5 -18.2L108.6 -19.4L110.8 -20.1ZM80.'
    '3 -42.3L80.9 -43.2L80 -44.9L82.5 -45.5L83.2 -47.3L85.2 -47L85.8 -48.5L87.8 -49.3L91 -46.9L90.9 -'
    '45.3L95.3 -44.2L96.3 -42.7L100.8 -42.7L105 -41.6L109.2 -42.5L111.8 -43.7L111.3 -44.5L111.9 -45.1'
    'L113.5 -44.8L117.4 -46.7L119.7 -46.7L118.1 -48.1L115.5 -48.1L116.7 -49.9L119.3 -50.1L120.7 -52L1'
    '20.2 -52.8L122.2 -53.4L125.9 -52.8L127.7 -49.8L129.4 -49.4L131 -47.8L135 -48.5L133.1 -45.1L131 -'
    '45L130.6 -42.4L130 -43L128.1 -42L128.2 -41.5L126.9 -41.8L124.3 -39.9L121.1 -38.9L122.2 -40.4L121'
    '.6 -40.9L117.5 -38.7L119.7 -37.2L120.8 -37.9L122.4 -37.5L122.5 -36.9L119.2 -34.9L121.9 -31.7L121'
    '.3 -30.7L122.1 -29.8L121.7 -28.2L118.7 -24.5L115.9 -22.8L110.8 -21.4L110.4 -20.3L109.9 -20.3L109'
    '.9 -21.4L107 -21.8L106.7 -22.8L105.3 -23.4L101.7 -22.3L101.8 -21.2L99.2 -22.1L99.5 -22.9L98.7 -2'
    '4.1L97.6 -23.9L98.7 -27.5L97.9 -28.3L96.2 -28.4L96.1 -29.5L92.5 -27.9L90 -28.3L88.8 -27.3L88.7 -'
    '28.1L85.8 -28.2L78.7 -31.5L78.9 -34.3L76.2 -35.9L73.7 -39.4ZM121.8 -24.4L120.7 -22L120.1 -23.6L1'
    '21.5 -25.3ZM10.4 -46.9L13.8 -46.5L13.9 -45.6L12.3 -45.4L12.6 -44.1L18.3 -39.8L16.9 -40.4L17.1 -3'
    '8.9L15.7 -37.9L16.1 -39L15.4 -40L11.2 -42.4L10.2 -43.9L8.9 -44.4L7.4 -43.7L6.8 -46ZM14.8 -38.1L1'
    '5.5 -38.2L15.1 -36.6L12.4 -37.6ZM8.7 -40.9L9.8 -40.5L9.7 -39.2L8.8 -38.9L8.2 -41ZM9.9 -55L8.5 -5'
    '5L8.1 -56.5L10.6 -57.7L10.3 -56.9L10.9 -56.5ZM12.4 -56.1L12.1 -54.8L11 -55.4ZM-6.2 -53.9L-7.6 -5'
    '4.1L-7.6 -55.1L-5.7 -54.6ZM-3.1 -53.4L-5 -55.8L-5.6 -55.3L-6.1 -56.8L-5 -58.6L-3 -58.6L-4.1 -57.'
    '6L-2 -57.7L-3.1 -56L-2.1 -55.9L0.5 -52.9L1.7 -52.7L1.4 -51.3L-5.8 -50.2L-3.4 -51.4L-5.3 -52L-4.2'
    ' -52.3L-4.6 -53.5ZM-14.5 -66.5L-14.7 -65.8L-13.6 -65.1L-18.7 -63.5L-22.8 -64L-21.8 -64.4L-24 -64'
    '.9L-22.2 -65.4L-24.3 -65.6L-22.1 -66.4L-20.6 -65.7ZM46.4 -41.9L47.8 -41.2L48.6 -41.8L50.4 -40.3L'
    '49.6 -40.2L48.9 -38.3L48.1 -39.6L46.5 -38.8L45.6 -39.9L45 -41.2L46.5 -41.1ZM40 -43.4L45.5 -42.5L'
    '46.6 -41.2L41.6 -41.5L41.5 -42.6ZM122.6 -10L124.1 -11.2L123 -9ZM126.4 -8.4L126.5 -7.2L126.2 -6.3'
    'L125.8 -7.3L125.4 -6.8L125.4 -5.6L124.2 -6.2L123.6 -7.8L121.9 -7.2L123.5 -8.7L125.5 -9L125.4 -9.'
    '8ZM118.5 -9.3L117.2 -8.4L119.5 -11.4L119.7 -10.6ZM122.3 -18.2L121.7 -14.3L124 -13.8L124.1 -12.5L'
    '122.9 -13.6L120.6 -13.9L121 -14.5L119.9 -15.4L120.7 -18.5ZM122 -11.4L121.9 -11.9L123.1 -11.6L122'
    ' -10.4ZM125.5 -12.2L125.8 -11L125 -11.3L124.8 -10.1L124.3 -12.6ZM100.1 -6.5L103 -5.5L104.2 -1.3L'
    '101.4 -2.8ZM117.9 -4.1L115.9 -4.3L114.6 -1.4L110.5 -0.8L109.8 -1.3L109.7 -2L111.2 -1.9L111.4 -2.'
    '7L113 -3.1L114.2 -4.5L115.3 -4.3L116.7 -6.9L119.2 -5.4ZM13.8 -46.5L16.6 -46.5L15.3 -45.5L13.7 -4'
    '5.5ZM28.6 -69.1L28.4 -68.4L30 -67.7L29.1 -66.9L30.2 -65.8L29.5 -64.9L30.4 -64.2L30 -63.6L31.5 -6'
    '2.9L31.1 -62.4L28.1 -60.5L22.9 -59.8L21.3 -60.7L21.5 -63.2L25.4 -65.1L23.6 -66.4L23.5 -67.9L20.6'
    ' -69.1L24.7 -68.6L27.7 -70.2L29 -69.8ZM22.6 -49.1L21.9 -48.3L17.9 -47.8L16.9 -48.5L18.6 -49.5ZM1'
    '5 -51.1L18.9 -49.5L14.3 -48.6L12.5 -49.5L12.2 -50.3ZM36.4 -14.4L36.9 -17L38.4 -18L39.3 -15.9L43.'
    '1 -12.7L42.4 -12.5L40 -14.5ZM141.9 -39.2L140.3 -35.1L137.2 -34.6L135.8 -33.5L135.1 -34.6L131 -33'
    '.9L132 -33.1L131.3 -31.5L130.2 -31.4L130.4 -32.3L129.4 -33.3L132.6 -35.4L135.7 -35.5L136.7 -37.3'
    'L137.4 -36.8L139.4 -38.2L140.3 -41.2L141.4 -41.4ZM144.6 -44L145.3 -44.4L145.5 -43.3L143.2 -42L14'
    '1.6 -42.7L141.1 -41.6L140 -41.6L139.8 -42.6L141.4 -43.4L142 -45.6ZM132.4 -33.5L133.9 -34.4L134.8'
    ' -33.8L133 -32.7ZM-58.2 20.2L-57.9 22.1L-55.8 22.4L-55.4 24L-54.3 24L-54.8 26.6L-55.7 27.4L-58.6'
    ' 27.1L-57.8 25.2L-62.7 22.2L-61.8 19.6L-59.1 19.4ZM52 -19L53.1 -16.7L52.2 -15.6L43.5 -12.6L42.6 '
    '-15.2L43.4 -17.6L47 -16.9L49.1 -18.6ZM35 -29.4L37.5 -30L38 -30.5L37 -31.5L39.2 -32.2L44.7 -29.2L'
    '47.5 -29L50.2 -26.7L52 -23L55.2 -22.7L55.7 -22L55 -20L49.1 -18.6L47 -16.9L43.4 -17.6L42.8 -16.3L'
    '39.1 -21.3L38.5 -23.7L34.6 -28.1ZM-48.7 78L-43.9 78.5L-43.3 80L-50.5 81L-54.2 80.6ZM-66.3 80.3L-'
    '59.6 80L-60.2 81ZM-73.9 71.3L-72.1 71.2L-71.7 69.5L-70.3 68.9L-68.3 71.4L-68.8 72.2L-71.1 72.5L-'
    '75 72.1ZM-102.3 71.9L-96.8 72L-96.2 72.5ZM-122.6 73.7L-118.7 73.5L-120.2 74.1ZM-163.7 78.6L-161.'
    '2 78.4L-159.2 79.5L-161.1 79.6ZM180 84.7L180 90L-180 90L-180 84.7L-179.1 84.1L-174.4 84.5L-170 8'
    '3.9L-158.1 85.4L-143.1 85L-142.9 84.6L-153.6 83.7L-152.9 82L-156.8 81.1L-150.6 81.3L-146.4 80.3L'
    '-149.5 79.4L-155.3 79.1L-158.1 78L-158.4 76.9L-151.3 77.4L-146.1 76.5L-146.2 75.4L-135.2 74.3L-1'
    '21.1 74.5L-113.9 73.7L-112.3 74.7L-107.6 75.2L-100.1 74.9L-102.5 74.1L-103.7 72.6L-96.3 73.6L-90'
    '.1 73.3L-89.2 72.6L-81.5 73.9L-80.3 73.1L-74.9 73.9L-67.4 72.5L-68.5 69.7L-67.4 68.1L-67.7 67.3L'
    '-63.6 64.9L-57.8 63.3L-57.2 63.5L-62 64.8L-62.6 65.5L-62.1 66.2L-65.7 68L-61.8 70.7L-60.8 73.7L-'
    '70.6 76.6L-77.2 76.7L-73.7 77.9L-77.9 78.4L-78 79.2L-75.4 80.3L-59.7 82.4L-58.2 83.2L-49.8 81.7L'
    '-42.8 82.1L-28.5 80.3L-29.7 79.3L-35.6 79.5L-35.8 78.3L-17.5 75.1L-15.7 74.5L-16.5 73.9L-15.4 73'
    '.1L-10.3 71.3L-7.4 71.7L-6.9 70.9L-0.2 71.6L7.7 69.9L10.8 70.8L13.4 70L27.1 70.5L32 69.7L33.9 68'
    '.5L38.6 69.8L54.5 65.8L61.4 68L64.1 67.4L68.9 67.9L69.7 69.2L67.8 70.3L69.1 70.7L67.9 71.9L69.9 '
    '72.3L73.9 69.9L77.6 69.5L82.8 67.2L86.8 67.2L88 66.2L89.7 67.2L95.8 67.4L99.7 67.2L102.8 65.6L10'
    '6.2 66.9L113.6 65.9L119.8 67.3L123.2 66.5L134.8 66.2L135.1 65.3L137.5 67L145.5 66.9L148.8 68.4L1'
    '54.3 68.6L161.6 70.6L171.2 71.7L169.3 73.7L166.1 74.4L163.6 76.2L164.7 78.2L167 78.8L161.8 79.2L'
    '159.8 80.9L169.4 83.8ZM-2.2 -35.2L-1.3 -32.3L-8.7 -28.8L-8.8 -27.1L-11.4 -26.9L-14.8 -21.5L-17 -'
    '21.4L-14.4 -26.3L-9.6 -29.9L-9.8 -31.2L-8.7 -33.2L-6.9 -34.1L-5.9 -35.8ZM36.9 -22L25 -22L25.2 -3'
    '1.6L28.9 -30.9L31 -31.6L32 -30.9L34.3 -31.2L34.9 -29.5L34.2 -27.8L32.3 -29.8L35.7 -23.9L35.5 -23'
    '.1ZM25 -22L25 -20L23.8 -19.6L15.9 -23.4L14.1 -22.5L10.3 -24.4L9.3 -26.1L10 -31.4L11.5 -33.1L15.2'
    ' -32.3L15.7 -31.4L19.1 -30.3L20.9 -32.7L24.9 -31.9ZM47.8 -8L45 -5L39.6 -3.4L36.2 -4.4L33 -7.8L36'
    '.4 -14.4L37.6 -14.2L37.9 -15L41.6 -13.5L42.4 -12.5L41.8 -11.1L42.8 -10.9L43.7 -9.2ZM42.4 -12.5L4'
    '3.3 -12.4L42.8 -10.9L41.8 -11.1ZM48.9 -11.4L48.9 -9.5L47.8 -8L43.7 -9.2L42.6 -10.6L43.1 -11.5L44'
    '.1 -10.4ZM33.9 1L29.6 1.3L31.2 -3.8L34 -4.2L34.5 -3.6L35 -1.9ZM30.4 1.1L30.8 2.3L29 2.8L29.3 1.6'
    'ZM18.6 -42.6L16 -45.2L19.4 -44.9L19.5 -43.6ZM22.4 -42.3L23 -41.3L20.6 -41.1L20.8 -42.1ZM18.8 -45'
    '.9L20.2 -46.1L22.7 -44.6L22.5 -42.5L21.6 -42.2L20.8 -43.3L20.3 -42.8L19.2 -43.5ZM20.1 -42.6L19.4'
    ' -41.9L18.5 -42.5L19.2 -43.5ZM20.6 -41.9L20.1 -42.6L20.6 -43.2L21.8 -42.7ZM30.8 -3.5L29.7 -4.6L2'
    '8 -4.4L23.9 -8.6L25.8 -10.4L26.8 -9.5L29 -9.4L30 -10.3L31.4 -9.8L32.4 -11.1L32.1 -12L33.2 -12.2L'
    '34 -8.7L33 -7.8L35.3 -5.5L33.4 -3.8Z'
)


# -- previews and camera facts, read from the originals themselves
# Where Flickr gives no thumbnail (an export-only mirror has no listing, so no url_n), the
# grids show a preview made here from the original; every photo's page shows the camera,
# lens, exposure and ISO of its original's own EXIF.  Each original is opened once per
# version: html/ORIGINALS_STATE keeps, per photo, its file's name, size and mtime (which the
# run sets to the date taken) with what was read from it, and a preview's name carries the
# same key.  A view build then costs a stat per photo and opens only new or changed
# originals: decoding 100,000 of them at every build would take hours.  (No inode in the key:
# two mirrors of one account hold the same view, byte for byte.)

ORIGINALS_STATE = 'originals.json'
# Our own previews, beside Flickr's thumbnails but never taken for one of them (OUR_THUMB_RE).
OWN_PREVIEW_RE = re.compile(r'^[\w-]+-[0-9a-f]{12}\.own\.jpg$', re.ASCII)
# Decompression bombs: no pixel is decoded of an original above this (its header says), and
# Pillow's own guard refuses to open one above twice it.  A JPEG is decoded at a reduced
# scale (draft mode: 1/2 to 1/8, still at least the preview's size); any other format whole,
# so it must also stay under PREVIEW_DECODE_PIXELS once drafted (about 160 MB as RGBA).
ORIGINAL_MAX_PIXELS = 250 * 1000 * 1000
PREVIEW_DECODE_PIXELS = 40 * 1000 * 1000
PREVIEW_QUALITY = 80
# EXIF tags (TIFF/EXIF 2.3 numbers): in IFD0, then in the EXIF sub-IFD.
EXIF_MAKE, EXIF_MODEL = 0x010F, 0x0110
EXIF_EXPOSURE_TIME, EXIF_F_NUMBER, EXIF_ISO, EXIF_FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
EXIF_LENS_MAKE, EXIF_LENS_MODEL = 0xA433, 0xA434
CAMERA_FACTS = ('camera', 'lens', 'exposure', 'iso')
EXIF_TEXT_MAX = 100   # a maker's string is short; a longer one is junk
# Originals Pillow cannot read told one a line, up to this many a run; the rest in one line
# (a library of HEIC files would otherwise fill the screen).
UNREADABLE_TOLD = 10


@functools.lru_cache(maxsize=None)
def pillow():
    """Pillow, imported when the view first reads an original (4 MiB that a run reading none,
    an unchanged re-run, spares), with its bomb guard at our limit."""
    from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
    Image.MAX_IMAGE_PIXELS = ORIGINAL_MAX_PIXELS
    return types.SimpleNamespace(ExifTags=ExifTags, Image=Image, ImageOps=ImageOps,
                                 UnidentifiedImageError=UnidentifiedImageError)


class PreviewRefused(Exception):
    """An original no preview is made of (too large to decode safely)."""


def is_image_name(name):
    return name.rsplit('.', 1)[-1].lower() in IMAGE_FILE_EXTENSIONS


def original_key(name, st):
    """What tells one version of an original from another without reading it."""
    return '%s\t%d\t%d' % (name, st.st_size, st.st_mtime_ns)


def own_preview_name(photo_id, key):
    digest = hashlib.sha1(key.encode('utf-8', 'surrogatepass')).hexdigest()[:12]
    return '%s-%s.own.jpg' % (page_id(photo_id), digest)


def own_preview_path(name):
    """An own preview's path relative to dest."""
    return '/'.join((HTML_DIR, THUMBS_DIR, name))


def exif_text(value):
    """A maker's string as shown: NUL padding, control characters and junk left out."""
    if isinstance(value, bytes):
        value = value.decode('latin-1')
    if not isinstance(value, str):
        return ''
    text = ' '.join(clean_text(value).split())
    return text if len(text) <= EXIF_TEXT_MAX else ''


def exif_number(value):
    """A rational or integer EXIF value as a float; None when absent or not a number."""
    if isinstance(value, tuple):   # ISO may be a list of values: the first counts
        value = value[0] if value else None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def camera_name(make, model):
    """'Canon EOS R5', not 'Canon Canon EOS R5': most models repeat the maker's name."""
    make, model = exif_text(make), exif_text(model)
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return ' '.join(part for part in (make, model) if part)


def exposure_time_text(seconds):
    """1/250 s, 0.3 s, 2.5 s, 30 s: as cameras show it."""
    if seconds < 1:
        denominator = 1 / seconds
        if abs(denominator - round(denominator)) < 0.02 * denominator:
            return '1/%d s' % round(denominator)
    return '%g s' % round(seconds, 1)


def exposure_text(exif_ifd):
    """'1/250 s, f/2.8, 35 mm' from what the original says (each part when known)."""
    parts = []
    seconds = exif_number(exif_ifd.get(EXIF_EXPOSURE_TIME))
    if seconds:
        parts.append(exposure_time_text(seconds))
    f_number = exif_number(exif_ifd.get(EXIF_F_NUMBER))
    if f_number:
        parts.append('f/%g' % round(f_number, 1))
    focal = exif_number(exif_ifd.get(EXIF_FOCAL_LENGTH))
    if focal:
        parts.append('%g mm' % round(focal, 1))
    return ', '.join(parts)


def camera_facts(exif):
    """[camera, lens, exposure, ISO] (each '' when unknown) from a Pillow Exif."""
    sub = exif.get_ifd(pillow().ExifTags.IFD.Exif)
    lens = camera_name(sub.get(EXIF_LENS_MAKE), sub.get(EXIF_LENS_MODEL)) if sub.get(EXIF_LENS_MODEL) else ''
    iso = exif_number(sub.get(EXIF_ISO))
    return [camera_name(exif.get(EXIF_MAKE), exif.get(EXIF_MODEL)), lens, exposure_text(sub),
            '%d' % iso if iso else '']


def on_white(image):
    """An image with transparency flattened on white (JPEG has no alpha: it would turn black)."""
    if image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info:
        image = image.convert('RGBA')
        flat = pillow().Image.new('RGB', image.size, 'white')
        flat.paste(image, mask=image.getchannel('A'))
        return flat
    return image.convert('RGB')


def preview_bytes(image):
    """A JPEG at most THUMB_MAX_SIDE pixels on its longer side, upright, of an opened image
    whose pixels are not decoded yet."""
    width, height = image.size
    if width * height > ORIGINAL_MAX_PIXELS:
        raise PreviewRefused('%dx%d pixels, more than a preview is made of' % (width, height))
    image.draft('RGB', (THUMB_MAX_SIDE, THUMB_MAX_SIDE))   # JPEG only: decoded scaled down
    width, height = image.size
    if width * height > PREVIEW_DECODE_PIXELS:
        raise PreviewRefused('%dx%d pixels to decode, more than a preview is made of' % (width, height))
    image = pillow().ImageOps.exif_transpose(image)
    image.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE))
    out = io.BytesIO()
    # (no comment: Pillow would carry the original's over, and a GIF's may exceed what a JPEG holds)
    on_white(image).save(out, 'JPEG', quality=PREVIEW_QUALITY, comment=b'')
    return out.getvalue()


def read_original(path, want_preview):
    """(camera facts, preview JPEG bytes or None, why no preview or None) of an original;
    raises whatever a broken or hostile file makes Pillow raise."""
    with warnings.catch_warnings():
        # Beyond ORIGINAL_MAX_PIXELS Pillow warns; preview_bytes() refuses such an image itself.
        image_module = pillow().Image
        warnings.simplefilter('ignore', image_module.DecompressionBombWarning)
        with image_module.open(path) as image:
            # A PNG's EXIF may follow its pixels: Pillow would decode them all to find it.
            exif = image.getexif() if image.format != 'PNG' or 'exif' in image.info else image_module.Exif()
            facts = camera_facts(exif)
            try:
                return facts, preview_bytes(image) if want_preview else None, None
            except PreviewRefused as e:   # its camera facts are still shown
                return facts, None, str(e)


class Originals:
    """What the HTML view reads from the originals themselves: the camera facts of each, and
    a preview of each photo Flickr gives no thumbnail of (see the section's comment).  An
    original Pillow cannot read gets the grid's placeholder and one warning, once: the
    failure is remembered with its version.  An entry is one string a photo (a list would
    weigh three times as much: 100,000 of them are held while the view is made):
    'name<TAB>size<TAB>mtime_ns<TAB>camera<TAB>lens<TAB>exposure<TAB>ISO<TAB>why no preview'."""

    FIELDS = 8

    def __init__(self, dest, reporter=None):
        self.dest, self.reporter = dest, reporter
        self.thumbs_dir = os.path.join(dest, HTML_DIR, THUMBS_DIR)
        self.path = os.path.join(dest, HTML_DIR, ORIGINALS_STATE)
        self.known = None    # photo id -> its entry, as last saved
        self.seen = {}       # ... those of the photos this view shows, as now
        self.previews = set()
        self.made = 0
        self.unreadable = 0
        self.executor = None   # what writes the previews and the state (the view's, set by it)
        self.thumbs_dir_planned = False

    def _load(self):
        if self.known is None:
            known = as_dict(read_json(self.path)).get('originals')
            self.known = known if isinstance(known, dict) else {}

    def _entry(self, photo_id, name, want_preview=False):
        """(key, entry) of the photo, read from its original when new or changed; None when
        it has no image file."""
        if not is_image_name(name):   # a video: Pillow reads none
            return None
        self._load()
        try:
            st = os.stat(os.path.join(self.dest, PHOTOSTREAM_DIR, name))
        except OSError:
            return None
        key = original_key(name, st)
        entry = self.known.get(photo_id)
        if not (isinstance(entry, str) and entry.startswith(key + '\t') and entry.count('\t') == self.FIELDS - 1):
            entry = self._read(photo_id, name, key, want_preview)
        elif want_preview and entry.endswith('\t'):   # readable: its preview is there, or made again
            if not self.executor.has_file(os.path.join(self.thumbs_dir, own_preview_name(photo_id, key))):
                entry = self._read(photo_id, name, key, want_preview)
        self.known[photo_id] = self.seen[photo_id] = entry
        return key, entry

    def _read(self, photo_id, name, key, want_preview):
        facts = preview = problem = None
        try:
            facts, preview, problem = read_original(os.path.join(self.dest, PHOTOSTREAM_DIR, name), want_preview)
        except KeyboardInterrupt:
            raise
        except pillow().UnidentifiedImageError:
            problem = 'not an image Pillow reads'
        except Exception as e:   # noqa: BLE001 -- a broken or hostile file: its photo shows a placeholder
            problem = ' '.join((first_line(e) or type(e).__name__).split())
        if problem:
            self._tell(name, problem, facts)
        if preview is not None:
            if not self.thumbs_dir_planned:
                self.executor.run(make_missing_dir(self.dest, HTML_DIR) + make_missing_dir(self.dest, THUMBS_PATH))
                self.thumbs_dir_planned = True
            self.executor.apply(WriteFile(os.path.join(THUMBS_PATH, own_preview_name(photo_id, key)), preview))
            self.made += 1
        return '\t'.join([key] + (facts or [''] * len(CAMERA_FACTS)) + [problem or ''])

    def _tell(self, name, problem, facts):
        self.unreadable += 1
        if self.reporter is not None and self.unreadable <= UNREADABLE_TOLD:
            self.reporter.warning('No %s of %s/%s: %s.' % ('preview' if facts else 'preview or camera facts',
                                                            PHOTOSTREAM_DIR, name, problem))

    def tell_the_rest(self):
        if self.reporter is not None and self.unreadable > UNREADABLE_TOLD:
            self.reporter.warning('... and %s more that Pillow cannot read or that are too large: no preview '
                                  'of them (the reason of each ends its line in %s/%s).'
                                  % (plural(self.unreadable - UNREADABLE_TOLD, 'original'), HTML_DIR, ORIGINALS_STATE))
        self.unreadable = 0

    def preview(self, photo_id, name):
        """The name of the photo's own preview in html/thumbs/, made if missing; None when its
        original cannot be read."""
        found = self._entry(photo_id, name, want_preview=True)
        if found is None or not found[1].endswith('\t'):
            return None
        preview = own_preview_name(photo_id, found[0])
        self.previews.add(preview)
        return preview

    def facts(self, photo_id, name):
        """{'camera', 'lens', 'exposure', 'iso'} of the photo's original (only those known)."""
        found = self._entry(photo_id, name)
        if found is None:
            return {}
        return {k: v for k, v in zip(CAMERA_FACTS, found[1].split('\t')[3:]) if v}

    def remove_stale_previews(self):
        """Our own previews no photo shows any more (replaced, deleted, or Flickr now gives
        a thumbnail): only files by our name pattern, never a user's."""
        try:
            with os.scandir(self.thumbs_dir) as entries:
                stale = [e.name for e in entries if OWN_PREVIEW_RE.match(e.name) and e.name not in self.previews]
        except OSError:
            return
        self.executor.run(Delete(os.path.join(THUMBS_PATH, name)) for name in stale)

    def save(self):
        """Only the photos this view shows are remembered: a deleted photo's entry goes.  Then
        they are let go: the run holds them no longer than the view's making."""
        self.executor.apply(WriteChunks(os.path.join(HTML_DIR, ORIGINALS_STATE), originals_state_chunks(self.seen)))
        self.known, self.seen, self.previews = None, {}, set()
        self.thumbs_dir_planned = False


def originals_state_chunks(seen):
    """html/ORIGINALS_STATE as json.dumps({'format': 1, 'originals': seen}, sort_keys=True,
    indent=0) writes it, a thousand entries a chunk: one string of 100,000 entries and the
    encoder's pieces of it were the first mirror's peak."""
    if not seen:
        yield b'{\n"format": 1,\n"originals": {}\n}'
        return
    yield b'{\n"format": 1,\n"originals": {\n'
    ids = sorted(seen)
    for start in range(0, len(ids), 1000):
        yield (',\n' if start else '').encode('ascii') + ',\n'.join(
            '%s: %s' % (json.dumps(pid), json.dumps(seen[pid])) for pid in ids[start:start + 1000]).encode('ascii')
    yield b'\n}\n}'


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
.cloud, .months, .places { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; }
.places { display: block; }
.places ul { list-style: none; padding-left: 1.5rem; }
.places li { margin: .25rem 0; }
.osm { font-size: .85rem; margin-left: .4rem; }
.worldmap { position: relative; aspect-ratio: 2 / 1; background: #d4e6f4; border-radius: 8px; overflow: hidden; }
.worldmap img, .worldmap svg { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
.worldmap .pin { fill: #d2232a; fill-opacity: .8; stroke: #fff; stroke-width: .3; }
.worldmap a:hover .pin { fill: #0b63ce; }
.worldmap.small { width: 320px; max-width: 100%; margin-bottom: .3rem; }
/* Notes and people: boxes over the image where Flickr drew them.  A box is a link (Tab
   reaches it); its text shows on hover, on focus and when the list links to it. */
.marked { position: relative; margin: 0 auto; }
figure.original .marked img { width: 100%; height: 100%; max-height: none; }
.box { position: absolute; border: 2px solid rgba(255,255,255,.9); box-shadow: 0 0 0 1px rgba(0,0,0,.6);
       border-radius: 3px; }
.box.person { border-style: dashed; }
.box span {
  position: absolute; top: 100%; left: 0; margin-top: 4px; z-index: 1; width: max-content; max-width: 20rem;
  background: rgba(0,0,0,.85); color: #fff; padding: .2rem .5rem; border-radius: 4px; font-size: .85rem;
  opacity: 0; pointer-events: none; white-space: pre-line;
}
.box:hover span, .box:focus span, .box:target span { opacity: 1; }
.box:focus, .box:target { outline: 3px solid var(--accent); outline-offset: 1px; }
.notes { padding-left: 1.2rem; max-width: 70ch; }
.notes li { margin: .4rem 0; }
.notes .author { font-weight: 600; }
.notes .text { overflow-wrap: anywhere; white-space: pre-line; }
.notes li:target, .people li:target { background: var(--thumb); border-radius: 4px; }
.people { list-style: none; padding: 0; margin: 0; }
.onphoto { font-size: .85rem; margin-left: .4rem; }
"""


# ---------------------------------------------------------------------------
# Views: what is derived from the mirror, each made again only when its inputs change
# ---------------------------------------------------------------------------
# A view (photostream.json, not-original.txt, the XMP sidecars, the HTML view) owns its
# paths, writes itself and removes what it no longer owns.  A view that declares its
# inputs is made again only when their hash changes, or when its output is not whole.
# Re-deriving 100,000 sidecars and photo pages takes a minute; an unchanged weekly run need
# not.  The inputs are the views' format number, the listing's fields, albums and
# collections, and every .metadata file's size and mtime.  --verify makes them all again.

VIEWS_STATE = '.flickrmirrorer-views.json'

# Raised whenever what the views write changes (a fix to a page, a new XMP field): every
# view of every mirror is then made again by its next run.
VIEWS_FORMAT = 5


class ViewInputs:
    """The hash of what a view is made from, fed piece by piece (never all in memory)."""

    def __init__(self, *parts):
        self.hash = hashlib.sha256(b'views format %d' % VIEWS_FORMAT)
        self.whole = True   # are the view's outputs all there?
        self.add(*parts)

    def add(self, *parts):
        self.hash.update(repr(parts).encode('utf-8', 'surrogatepass'))

    def hexdigest(self):
        return self.hash.hexdigest()


class ViewsState:
    """DEST/.flickrmirrorer-views.json: view name -> the hash of its inputs when last made."""

    def __init__(self, executor, force=False):
        self.executor = executor   # (a dry run's remembers in memory what it would write)
        self.force = force
        self.state = None

    def read(self):
        if self.state is None:
            state = read_json(os.path.join(self.executor.dest, VIEWS_STATE))
            self.state = state if isinstance(state, dict) else {}
        return self.state

    def current(self, name, digest):
        return not self.force and self.read().get(name) == digest

    def remember(self, name, digest):
        self.read()[name] = digest
        self.executor.run(rewrite(self.executor.dest, WriteFile, VIEWS_STATE, json_bytes(self.state)))


def make_views(views, views_state, stats, reporter):
    """The one driver: each view is made unless its inputs are unchanged and it is whole; a
    link in one view's way stops that view alone.  Each writes through the executor."""
    executor = views_state.executor
    for view in views:
        inputs = view.inputs(executor)
        digest = inputs.hexdigest() if inputs is not None else None
        if inputs is not None and inputs.whole and views_state.current(view.name, digest):
            reporter.detail(view.up_to_date())
            continue
        try:
            said = view.write(executor)
        except LinkInTheWay as e:
            part_stopped(e, stats, reporter)
            continue
        if digest is not None:
            views_state.remember(view.name, digest)
        if said:
            reporter.detail(said)


def kept_favorites(dest, executor):
    """photo id -> file name of every favourite --favorites keeps in Favorites/ (one with its
    .metadata), as the run leaves the folder (a dry run's: as it would)."""
    names = executor.names_in(os.path.join(dest, FAVORITES_DIR))
    present = set(names)
    kept = {}
    for name in names:
        match = PHOTO_FILE_RE.match(name)
        if match and name + METADATA_SUFFIX in present:
            kept[match.group(1)] = name
    return kept


def held_files(state):
    """(photo id, file name) of every media file the run holds, listed or not, in the same
    order on every run (the order files arrive in is not)."""
    for photo in state.photostream:
        name = state.files.get(photo.id)
        if name:
            yield photo.id, name
    for pid in sorted(state.unlisted):
        yield pid, state.unlisted[pid]


class PhotostreamOrderView:
    """dest/photostream.json: the photostream's order, which no directory can show.  One
    photo a line, streamed in chunks (for 100,000 photos the file is 10 MB), rewritten only
    when its hash changes: no inputs to declare."""
    name = 'photostream.json'

    def __init__(self, state):
        self.state = state

    def inputs(self, executor):
        return None

    def write(self, executor):
        state = self.state

        def chunks():
            out = [b'{"flickrmirrorer": {"format": %d}, "photos": [' % METADATA_FORMAT]
            for i, p in enumerate(state.photostream):
                entry = {'id': p.id, 'dateupload': p.dateupload, 'file': state.files.get(p.id)}
                out.append(valid_text((',\n' if i else '\n') + json.dumps(entry, sort_keys=True, ensure_ascii=False))
                           .encode('utf-8'))
                if len(out) >= 5000:
                    yield b''.join(out)
                    out = []
            out.append(b'\n]}\n')
            yield b''.join(out)
        executor.apply(WriteChunks(self.name, chunks()))


NOT_ORIGINAL_HEADER = '''\
# Flickr did not give flickrmirrorer the original file of these items: each is kept as the
# best version Flickr does give (the "kept" column).  Flickr refuses most video originals to
# programs, and since 15 May 2025 gives a free account's photos at most 1024 px.  Flickr's
# data export holds every original: ask for it at https://www.flickr.com/account ("Request my
# Flickr data") and run flickrmirrorer DEST --import-export FOLDER-OF-ITS-ZIPS.  A video's
# original can also be downloaded from its page (last column: Download > Original) into
# photostream/ as <id>.original.<ext> (for example 12345.original.mp4; the name Flickr's
# download gives, <id>_<secret>_o.<ext>, works too): the next run adopts it.  Every run asks
# Flickr for a video's original once more.
# id\tfile\tkept\tFlickr page'''


class NotOriginalView:
    """dest/not-original.txt: every item kept as another version than its original, with
    what to do about it.  Removed when there is none."""
    name = NOT_ORIGINAL_LIST

    def __init__(self, state):
        self.state = state

    def inputs(self, executor):
        return None

    def write(self, executor):
        not_original = self.state.not_original
        if not not_original:
            if os.path.lexists(os.path.join(self.state.dest, NOT_ORIGINAL_LIST)):
                executor.apply(Delete(NOT_ORIGINAL_LIST))
            return
        lines = [NOT_ORIGINAL_HEADER]
        for pid in sorted(not_original, key=int):
            info = not_original[pid]
            lines.append('%s\t%s/%s\tkept: %s\t%s' % (
                pid, PHOTOSTREAM_DIR, info.get('name'), info.get('label') or '?',
                photo_page_url({'id': pid, 'owner': self.state.owner})))
        executor.run(rewrite(self.state.dest, WriteFile, NOT_ORIGINAL_LIST,
                             valid_text('\n'.join(lines) + '\n').encode('utf-8')))


class XmpView:
    """The sidecars beside every media file the run holds (see the XMP section)."""
    name = 'xmp'

    def __init__(self, state, albums, tree):
        self.state, self.albums, self.tree = state, albums, tree

    def inputs(self, executor):
        directory = self.state.photostream_dir
        inputs = ViewInputs([(album['id'], text_of(album.get('title')), ids) for album, ids in self.albums],
                            self.tree)
        for pid, name in held_files(self.state):
            stamp = executor.stamp(metadata_path_for(directory, name))
            inputs.add(pid, name, stamp)
            inputs.whole = inputs.whole and not (stamp and not executor.has_file(xmp_path_for(directory, name)))
        return inputs

    def up_to_date(self):
        return 'XMP sidecars: up to date'

    def write(self, executor):
        written, removed = write_xmp_sidecars(self.state.photostream_dir, held_files(self.state),
                                              self.albums, self.tree, executor)
        return 'XMP sidecars: %d written, %d removed' % (written, removed)


class HtmlView:
    """dest/index.html and dest/html/ (see the HTML section); its thumbnails are fetched
    beforehand (Thumbnails), beside a quick enrichment."""
    name = 'html'

    def __init__(self, state, albums, tree, reporter=None):
        self.state = state
        self.originals = Originals(state.dest, reporter)
        self.previews_stopped = None   # a LinkInTheWay met making the previews
        self.albums = [{'id': a['id'], 'title': text_of(a.get('title')), 'description': text_of(a.get('description')),
                        'primary': a.get('primary'), 'photo_ids': ids} for a, ids in albums]
        self.collections = html_collections(tree)

    def inputs(self, executor):
        state = self.state
        for photo in state.photostream:
            photo.filename = state.files.get(photo.id)
        self.originals.executor = executor
        self.make_previews()   # the pages show them: made before what the pages show is hashed
        html_dir = os.path.join(state.dest, HTML_DIR)
        inputs = ViewInputs(HTML_PAGE_SIZE, self.albums, self.collections,
                            account_files_stamp(state.dest, executor), self.list_stamps(executor))
        inputs.whole = all(executor.has_file(path) for path in (os.path.join(state.dest, 'index.html'),
                                                                os.path.join(html_dir, SEARCH_PAGE)))
        for p in state.photostream:
            stamp = executor.stamp(metadata_path_for(state.photostream_dir, p.filename)) if p.filename else None
            if stamp and p.from_file:   # its texts are the file's, maybe not read yet
                inputs.add(p.id, p.media, p.filename, p.thumb_url, p.has_thumb, stamp)
            else:
                inputs.add(p.id, p.media, p.taken, p.granularity, p.title, p.description, p.tag_lines,
                           p.filename, p.thumb_url, p.has_thumb, stamp)
            inputs.add(p.preview)
            inputs.whole = inputs.whole and not (stamp and not executor.has_file(os.path.join(html_dir, photo_page(p.id))))
        inputs.whole = inputs.whole and self.previews_stopped is None
        return inputs

    def up_to_date(self):
        return 'HTML view: %s fetched, its pages are up to date' % plural(self.state.thumbnails[0], 'thumbnail')

    def list_files(self, executor):
        """The files the galleries, groups, album comments and favourites are read from (see
        read_lists), as the run leaves them."""
        dest = self.state.dest
        account_dir = os.path.join(dest, ACCOUNT_DIR)
        try:
            exported = sorted(n for n in os.listdir(account_dir) if re.match(r'^(?:sets_comments|faves).*\.json$', n))
        except OSError:
            exported = []
        return ([os.path.join(dest, name) for name in (GALLERIES_FILE, GROUPS_FILE)]
                + [os.path.join(account_dir, name) for name in ['galleries.json', 'groups.json'] + exported]
                + [self.album_metadata_path(album) for album in self.albums]
                + [os.path.join(dest, FAVORITES_DIR, name + METADATA_SUFFIX)
                   for name in sorted(kept_favorites(dest, executor).values())])

    def list_stamps(self, executor):
        return [(os.path.relpath(path, self.state.dest), executor.stamp(path)) for path in self.list_files(executor)]

    def album_metadata_path(self, album):
        return os.path.join(self.state.dest, ALBUMS_DIR, safe_name(album['title'], album['id']), DIR_METADATA_NAME)

    def read_lists(self, executor):
        """(albums with their comments, {'galleries', 'groups', 'favorites'}): the API's files
        (--favorites' for the favourites) first, else the data export's (as the run leaves
        them: a dry run's would-be files too)."""
        read_json = executor.read_json
        dest, account_dir = self.state.dest, os.path.join(self.state.dest, ACCOUNT_DIR)
        api = read_json(os.path.join(dest, GALLERIES_FILE))
        galleries = api_galleries(api) if api is not None else export_galleries(
            read_json(os.path.join(account_dir, 'galleries.json')))
        api = read_json(os.path.join(dest, GROUPS_FILE))
        groups = api_groups(api) if api is not None else export_groups(
            read_json(os.path.join(account_dir, 'groups.json')), self.state.export_groups)
        exported, exported_faves, kept_faves = {}, [], []
        for path in self.list_files(executor):
            data, base = read_json(path), os.path.basename(path)
            if os.path.basename(os.path.dirname(path)) == FAVORITES_DIR:
                fave = kept_favorite(as_dict(data), base[:-len(METADATA_SUFFIX)])
                if fave:
                    kept_faves.append(fave)
            elif base.startswith('sets_comments'):
                for c in map(as_dict, data if isinstance(data, list) else as_list(as_dict(data).get('comments'))):
                    exported.setdefault(as_scalar(c.get('photoset_id')), []).append(export_album_comment(c))
            elif base.startswith('faves'):
                entries = data if isinstance(data, list) else next(
                    (as_dict(data)[k] for k in ('faves', 'favorites') if as_dict(data).get(k) is not None), [])
                exported_faves.extend(f for f in map(exported_favorite, map(as_dict, as_list(entries))) if f)
        albums = []
        for album in self.albums:
            stored = as_dict(read_json(self.album_metadata_path(album)))
            comments = [api_album_comment(as_dict(c)) for c in as_list(stored.get('comments'))] \
                if 'comments' in stored else exported.get(album['id'], [])
            albums.append(dict(album, comments=comments))
        kept_faves.sort(key=lambda f: (f['when'], to_int(f['id'])), reverse=True)   # newest fave first
        return albums, {'galleries': galleries, 'groups': groups, 'favorites': kept_faves or exported_faves}

    def write(self, executor):
        read_texts(self.state, executor)
        self.executor = executor
        albums, lists = self.read_lists(executor)
        written = write_html_view(self.state.dest, self.state.photostream, albums, self.collections,
                                  details=self.photo_details, camera_facts=self.camera_facts, lists=lists,
                                  executor=executor)
        self.originals.tell_the_rest()
        if self.previews_stopped is not None:   # the pages are made, without the previews: told
            raise self.previews_stopped
        self.originals.remove_stale_previews()
        self.originals.save()
        made = ', %s made from originals' % plural(self.originals.made, 'preview') if self.originals.made else ''
        return 'HTML view: %s fetched%s, %s written' % (plural(self.state.thumbnails[0], 'thumbnail'), made,
                                                        plural(written, 'page'))

    def photo_details(self, photo_id):
        """The photo as its .metadata has it, for what its own page shows beyond the grids
        (its texts are those of the kept photo already: not read twice)."""
        name = self.state.files.get(photo_id)
        metadata = self.executor.read_json(metadata_path_for(self.state.photostream_dir, name)) if name else None
        return Photo.from_metadata(metadata, texts=False)

    def camera_facts(self, photo_id):
        """Its original's camera, lens, exposure and ISO, from its EXIF."""
        name = self.state.files.get(photo_id)
        return self.originals.facts(photo_id, name) if name else {}

    def make_previews(self):
        """A preview of each photo Flickr gives no thumbnail of (every photo of an
        export-only mirror), from its original.  A link in their way stops them alone: the
        pages are still made, and it is told when they are."""
        self.previews_stopped = None
        for p in self.state.photostream:
            p.preview = None
            if p.filename and not p.thumb_url and p.media != 'video' and self.previews_stopped is None:
                try:
                    p.preview = self.originals.preview(p.id, p.filename)
                except LinkInTheWay as e:
                    self.previews_stopped = e


def read_texts(state, executor):
    """The texts of the photos whose .metadata the run left as it is, read now that the HTML
    view is written: the unchanged re-run, which writes no view, reads none of them."""
    for photo in state.photostream:
        if photo.texts_unread:
            name = state.files.get(photo.id)
            photo.refresh(executor.read_json(metadata_path_for(state.photostream_dir, name)) if name else None)


def html_collections(tree):
    return [{'id': c['id'], 'title': text_of(c.get('title')), 'description': text_of(c.get('description')),
             'album_ids': [a['id'] for a in c.get('set') or []],
             'children': html_collections(c.get('collection') or [])} for c in tree]


# ---------------------------------------------------------------------------
# Enrich metadata: photos.getInfo and comments, paced within Flickr's hourly budget
# ---------------------------------------------------------------------------

class Enricher:
    """The second stage: for each photo whose metadata lacks getInfo (or has an older one),
    read it and its comments, and rewrite the photo's .metadata atomically.  The files are
    all in place by then; an interrupted run resumes here, photo by photo."""

    def __init__(self, photostream_dir, client, executor):
        self.dir = photostream_dir
        self.client = client
        self.executor = executor

    def run(self, photo_id, filename):
        """The photo's new metadata once rewritten, else None."""
        path = metadata_path_for(self.dir, filename)
        stored = Photo.from_metadata(read_json(path), texts=False)
        if stored is None or not stored.listing:
            return None   # the files stage writes it first; nothing to enrich yet
        listing = stored.listing
        lastupdate = str(listing.get('lastupdate'))
        info, people = stored.info, stored.people
        if info is None or str(stored.enriched) != lastupdate:
            info, people = self.client.photo_info(photo_id), None
        if has_people(info) and people is None:
            people = self.client.photo_people(photo_id)
        comments = stored.comments
        count = to_int(listing.get('count_comments'))
        if count == 0:
            comments = None
        elif count != len(comments or []):
            comments = self.client.photo_comments(photo_id)
        metadata = build_photo_metadata(listing, stored.file, stored, info, comments, lastupdate, people)
        changed = rewrite(self.executor.dest, WriteMetadata, metadata_path_for(PHOTOSTREAM_DIR, filename),
                          json_bytes(metadata))
        self.executor.run(changed)
        return metadata if changed else None


class EnrichStage:
    """The last stage: getInfo and comments for the photos the plan marked, in the pool,
    paced within the hourly budget."""

    def __init__(self, state, client, pool, executor, stats, reporter, then=None):
        self.state = state
        self.client = client
        self.pool = pool
        self.executor = executor
        self.stats = stats
        self.reporter = reporter
        self.then = then   # what is read after the photos (the account's lists, favourites), unless the quota is spent
        self.spent = None

    def run(self):
        """Returns True when any metadata was rewritten.  A dry run asks Flickr for no
        photo's metadata: they are counted (count_planned)."""
        changed = self.count_planned() if self.executor.dry else self.enrich_photos()
        if self.spent is None and self.then is not None:
            changed = self.then() or changed
        return changed

    def enrich_photos(self):
        state = self.state
        failed = {pid for pid, _ in state.failed}
        todo = [s for s in state.to_enrich if state.files.get(s.id) and s.id not in failed]
        if not todo:
            return False
        pacer = self.client.pacer
        eta = pacer.seconds_for(state.enrich_calls)
        self.reporter.info('Metadata: %s to enrich%s; an interrupted run continues next time.'
                           % (plural(len(todo), 'photo'), ', about %s at %d calls/hour' % (human_duration(eta), pacer.per_hour)
                                         if eta >= 60 else ''))
        enricher = Enricher(state.photostream_dir, self.client, self.executor)
        enriched_before = self.stats.enriched
        self.spent, self.finished = None, 0   # once the hour's quota is spent, nothing more is asked
        self.pool.run('Metadata', ((s, enricher.run, s.id, state.files[s.id]) for s in todo if self.spent is None),
                      self.finish, total=len(todo))
        if self.spent is not None:
            self.stats.metadata_left = len(todo) - self.finished
            self.stats.metadata_left_eta = 'about %s at %d calls/hour' % (
                human_duration(pacer.seconds_for(self.stats.metadata_left)), pacer.per_hour)
            self.reporter.info('%s.  The metadata of %s is left for the next run; every file is in place.'
                               % (self.spent, plural(self.stats.metadata_left, 'photo')))
        return self.stats.enriched > enriched_before

    def finish(self, summary, future):
        try:
            metadata = future.result()
        except QuotaSpent as spent:   # not a failure: the next run goes on
            self.spent = self.spent or spent
            return
        except NotFoundError:
            pass   # deleted on Flickr since the listing: the next run lets it go
        except (ItemError, TransientError, LinkInTheWay) as e:
            self.pool.item_failed(summary.id, 'metadata: %s' % e, counter='metadata_failed')
        else:
            if metadata is not None:
                self.stats.enriched += 1
                summary.refresh(metadata)
            self.pool.succeeded()
        self.finished += 1

    def seconds_needed(self):
        """How long enrichment takes at the budget (0 when there is nothing to enrich)."""
        return self.client.pacer.seconds_for(self.state.enrich_calls) if self.state.to_enrich else 0.0

    def count_planned(self):
        """A dry run: counted as the real run would count them; nothing rewritten."""
        self.stats.enriched = len(self.state.to_enrich)
        if self.state.to_enrich:
            self.reporter.info('would read the metadata (photos.getInfo) of %s'
                               % plural(len(self.state.to_enrich), 'photo'))
        return False


# ---------------------------------------------------------------------------
# Favourites (--favorites): other people's photos, kept apart with their owner and licence
# ---------------------------------------------------------------------------
# DEST/Favorites/<id>.<ext>, its .metadata (the listing, the file, and FAVORITE_KEY: owner,
# licence, page) and a sidecar crediting the owner.  One favorites.getList call per 500 a
# run, with the listing's extras: a favourite is downloaded when new or when its owner
# replaced its file (its secrets moved), so an unchanged re-run fetches nothing.  Read after
# the photos' metadata, within the same budget; off by default: they are not your photos.

class FavoritesMirror:
    """Keeps Favorites/ as favorites.getList lists them; one no longer listed is removed
    only with --delete-unknown, and after a complete listing only."""

    def __init__(self, dest, client, account, executor, delete_unknown, stats, reporter):
        self.dest, self.client, self.account, self.executor = dest, client, account, executor
        self.delete_unknown, self.stats, self.reporter = delete_unknown, stats, reporter
        self.dir = os.path.join(dest, FAVORITES_DIR)
        self.changed = False

    def run(self):
        """Returns True when it changed a file the views read."""
        guarded(self.dir)
        check = ListingCheck()
        try:
            faves = [strip_volatile(as_dict(r)) for r in self.client.favorites(self.account, check)]
        except QuotaSpent:
            return self.changed   # said by the enrichment's line; the next run reads them
        except (ItemError, TransientError) as e:
            self.stats.favorites_failed += 1
            self.reporter.error('Could not list your favourites: %s; the ones kept stay, and the next run tries '
                                'again.' % first_line(e))
            return self.changed
        faves = [r for r in faves if valid_id(r.get('id'))]
        held = kept_favorites(self.dest, self.executor)
        new_before = self.stats.favorites_new
        self._run(make_missing_dir(self.dest, FAVORITES_DIR))
        if not self.keep_all(faves, held):
            return self.changed   # the quota is spent: said by the enrichment's line, the rest next run
        new = self.stats.favorites_new - new_before
        self.reporter.info('Favourites: %s on Flickr%s, kept in %s/.' % (
            plural(len(faves), 'photo'), ', %d new' % new if new else '', FAVORITES_DIR))
        problem = check.problem(len(faves), 'favourites')
        if problem:
            self.reporter.warning('The list of your favourites was incomplete (%s): none is removed.' % problem)
        elif held:
            self.gone(held)
        return self.changed

    def keep_all(self, faves, held):
        """Keep each listed favourite; `held` is left with the ones no longer listed.  False
        when the hour's quota ran out first (`held` then still holds listed ones)."""
        for record in faves:
            try:
                self.keep(record, held.pop(record['id'], None))
            except QuotaSpent:
                return False
            except (ItemError, TransientError, FilesHeldBack, MediaRefused) as e:
                self.stats.favorites_failed += 1
                self.reporter.error('could not keep favourite %s: %s' % (record['id'], first_line(e)))
        return True

    def keep(self, record, name):
        """The favourite's file (downloaded when new or replaced), metadata and sidecar."""
        stored = as_dict(read_json(os.path.join(self.dir, name + METADATA_SUFFIX))) if name else {}
        file_info = as_dict(stored.get('file'))
        if not file_info.get('name') or file_replaced(as_dict(stored.get('listing')), record) \
                or not os.path.isfile(os.path.join(self.dir, name)):
            file_info = self.download(record, name)
        new = file_info['name']
        metadata = favorite_metadata(record, file_info)
        self._run(rewrite(self.dest, WriteMetadata, favorite_path(new + METADATA_SUFFIX), json_bytes(metadata)))
        self._run(rewrite(self.dest, WriteFile, favorite_path(new + XMP_SUFFIX),
                          xmp_packet(favorite_xmp_fields(metadata))))
        if name and name != new:   # another extension: the old file goes
            self.remove(name, 'replaced by %s' % new)

    def download(self, record, old):
        """The file record of the best file Flickr gives this account: the listing's
        original, else getSizes' (an owner may let no one download the original)."""
        pid = record['id']
        choices = listing_choices(record) or choices_from_sizes(record, self.client.photo_sizes(pid))
        for choice in choices:
            try:
                name, size, digest = self.executor.apply(Download(
                    FAVORITES_DIR, choice, lambda r, c=choice: '%s.%s' % (pid, extension_for(record, c, r)),
                    note='favourite' if choice.original else 'favourite, ' + choice.label,
                    tally=('favorites_new',) if old is None else (), replacing=old is not None))
            except OriginalRefused:
                continue
            self.changed = True
            return {'name': name, 'size': size, 'sha256': digest, 'label': choice.label, 'original': choice.original}
        raise ItemError('Flickr offers no file of it')

    def gone(self, held):
        if not self.delete_unknown:
            self.reporter.info('%s no longer among your favourites on Flickr: kept in %s/ (--delete-unknown '
                               'removes them)' % (plural(len(held), 'photo'), FAVORITES_DIR))
            return
        for name in sorted(held.values()):
            self.remove(name, 'no longer a favourite')
            self.stats.favorites_removed += 1

    def remove(self, name, reason):
        self._run([Delete(favorite_path(n), reason=reason) for n in (name, name + METADATA_SUFFIX, name + XMP_SUFFIX)
                   if self.executor.has_file(os.path.join(self.dir, n))])

    def _run(self, actions):
        self.executor.run(actions)
        self.changed = self.changed or bool(actions)


def favorite_path(name):
    return FAVORITES_DIR + '/' + name


def file_replaced(old, record):
    """Has the owner replaced the photo's file since it was downloaded (new secrets)?"""
    return any(old.get(k) != record.get(k) for k in ('secret', 'originalsecret'))


def favorite_metadata(record, file_info):
    owner = as_scalar(record.get('owner'))
    license = as_scalar(record.get('license'))
    name, url = FLICKR_LICENSES.get(license, ('', ''))
    when = to_int(record.get('date_faved'), None)
    return {'listing': record, 'file': file_info,
            FAVORITE_KEY: {'owner': owner, 'ownername': text_of(record.get('ownername')),
                           'license': license, 'license_name': name, 'license_url': url,
                           'page': flickr_photo_url(as_scalar(record.get('pathalias')) or owner, record['id']),
                           'faved': time.strftime('%Y-%m-%d', time.gmtime(when)) if when else ''},
            'flickrmirrorer': {'format': METADATA_FORMAT}}


def favorite_xmp_fields(metadata):
    """A favourite's sidecar: as one of yours, with its owner as the creator and the
    licence it was shared under in the rights."""
    fave = as_dict(metadata.get(FAVORITE_KEY))
    fields = xmp_fields(metadata)
    fields.page_url = fave.get('page') or fields.page_url
    fields.creator = fave.get('ownername') or fave.get('owner') or ''
    if fields.creator:
        fields.rights = '\u00a9 %s%s' % (fields.creator, ', ' + fave['license_name'] if fave.get('license_name') else '')
    return fields


# ---------------------------------------------------------------------------
# Report: what the run kept as another version, what --verify found
# ---------------------------------------------------------------------------
# The end-of-run line and the statistics are Stats' (see "Reporting" above).

def report_not_original(state, reporter, free_account=False):
    """Said once, on the run that first keeps an item so (also under -q: cron mails it);
    after that only without -q."""
    count = len(state.not_original)
    if not count:
        return
    videos = sum(1 for p in state.photostream if p.id in state.not_original and p.media == 'video')
    what = '%s and %s' % (plural(videos, 'video'), plural(count - videos, 'photo')) if count - videos and videos \
        else plural(count, 'video' if videos else 'photo')
    listed = os.path.join(state.dest, NOT_ORIGINAL_LIST)
    smaller = sum(1 for p in state.photostream if p.id in state.not_original and p.media != 'video'
                  and state.not_original[p.id].get('label') != FREE_ACCOUNT_LABEL)
    message = not_original_warning(count - videos, videos, state.dest, free_account, smaller)
    if state.newly_not_original:
        reporter.warning(message)
    else:
        reporter.info('%s kept as another version than the original (see %s).' % (what[0].upper() + what[1:], listed))


def report_verification(stats, reporter, dry):
    broken = stats.damaged + stats.missing
    reporter.info('Verified %s: %d damaged, %d missing; %s.' % (
        plural(stats.verified, 'file'), stats.damaged, stats.missing,
        'all intact' if not broken else '%d could not be repaired' % stats.unrepaired if stats.unrepaired
        else 'the run would repair them' if dry else 'all repaired'))


# ---------------------------------------------------------------------------
# The run: the stages, wired
# ---------------------------------------------------------------------------

def mirror_account(ctx, client):
    """List, plan and fetch the files; build the trees; tidy; make the views; enrich;
    report.  Returns the run's state (its `incomplete` says whether the listing was)."""
    args, stats, reporter, stop_event = ctx.options, ctx.stats, ctx.reporter, ctx.stop_event
    state = RunState(ctx.destination)
    transport = Transport(client.policy, reporter, stop_event)
    pool = WorkPool(args.jobs, state, stats, reporter, stop_event)
    executor = Executor(state.dest, stats, reporter, dry=args.dry_run, downloader=Downloader(transport),
                        thumbnails=ThumbnailFetcher(transport))
    photos = PhotoMirror(state.photostream_dir, client, executor, stats, reporter)
    guarded(state.photostream_dir)   # a link there stops the run: every file lives there
    local = scan_photostream(state.photostream_dir, find_orphans=args.verify or args.delete_unknown)
    executor.run(make_missing_dir(state.dest, PHOTOSTREAM_DIR))
    FilesStage(args, state, client, photos, pool, stats, reporter).run(local)
    if ctx.export is not None:   # the originals the API refused, from Flickr's data export
        ctx.export.import_into(state.dest, state.photostream, state.files, state.note_not_original, args, executor)

    builder = TreeBuilder(state.dest, client, stats, reporter, executor)
    albums = builder.list_albums()
    state.incomplete.extend(builder.incomplete)
    tree = client.collection_tree()
    builder.build_albums(albums, state.files)
    builder.build_not_in_album([p.id for p in state.photostream], albums, state.files,
                               keep_others=bool(state.incomplete))
    builder.build_collections(tree)
    state.unlisted = local.unlisted()
    tidy = Tidier(args, state, executor, stats, reporter)
    tidy.photostream(state.unlisted, local.count)
    tidy.orphaned_metadata(local.orphaned_metadata)
    stats.listing_incomplete = len(state.incomplete)

    readers = [AccountLists(state.dest, client, ctx.account, albums, builder.album_dir_names, executor, stats,
                            reporter).run]
    if args.favorites:
        readers.append(FavoritesMirror(state.dest, client, ctx.account, executor, args.delete_unknown, stats,
                                       reporter).run)
    enrich = EnrichStage(state, client, pool, executor, stats, reporter, then=lambda: each_of(readers))
    # (after an incomplete listing make_all_views keeps the last views and asks for none)
    thumbnails = Thumbnails(state, executor, args.jobs, stats, reporter, wanted=not args.no_html)
    make_all_views(args, state, albums, tree, enrich, thumbnails, executor, stats, reporter)
    stats.not_original = len(state.not_original)
    if not args.dry_run:
        report_not_original(state, reporter, ctx.free_account)
    if args.verify:
        report_verification(stats, reporter, args.dry_run)
    return state


def each_of(readers):
    """Run every reader (none skipped when one changed something): did any change a file?"""
    return any([read() for read in readers])


def views_kept(state):
    """After an incomplete listing the views of the last complete one stay."""
    return bool(state.incomplete) and os.path.exists(os.path.join(state.dest, PhotostreamOrderView.name))


def mirror_export(ctx):
    """Export-only (no API key): the same tree from Flickr's data export alone: the files
    and their metadata, albums in albums.json's order, 'Not in any album', the views.  No
    collections (the export has none) and never a deletion.  A later run with an API key
    adopts this mirror (plan_photo: the export's file is kept where it fits the listing)."""
    args, stats, reporter, stop_event = ctx.options, ctx.stats, ctx.reporter, ctx.stop_event
    state = RunState(ctx.destination)
    state.owner = ctx.account
    guarded(state.photostream_dir)   # a link there stops the run: every file lives there
    local = scan_photostream(state.photostream_dir)
    state.files.update(local.files)
    downloader = None   # --offline
    if not args.offline:   # a photo the export has no media of: its original from its address
        policy = RetryPolicy(attempts=args.retries, initial_wait=args.retry_wait, stop_event=stop_event)
        downloader = Downloader(Transport(policy, reporter, stop_event))
    executor = Executor(state.dest, stats, reporter, dry=args.dry_run, downloader=downloader)
    executor.run(make_missing_dir(state.dest, PHOTOSTREAM_DIR))
    albums = ctx.export.import_alone(state.dest, state.files, args, executor)
    state.photostream = export_photostream(state)
    builder = TreeBuilder(state.dest, None, stats, reporter, executor)
    builder.album_list_complete = False   # an album the export no longer lists stays
    builder.build_albums(albums, state.files)
    builder.build_not_in_album([p.id for p in state.photostream], albums, state.files)
    reporter.info('No collections: Flickr\'s data export has none; %s/ is made by the first run with an API '
                  'key.' % COLLECTIONS_DIR)
    stats.not_original = len(state.not_original)
    shown = ([] if args.no_xmp else [XmpView(state, albums, [])]) + \
        ([] if args.no_html else [HtmlView(state, albums, [], reporter)])
    make_views([PhotostreamOrderView(state), NotOriginalView(state)] + shown,
               ViewsState(executor, force=args.verify), stats, reporter)
    return state


def export_photostream(state):
    """Every photo the mirror holds, through the one model, newest upload first (Flickr's
    photostream order): what the views show in an export-only run."""
    photos = []
    for pid, name in state.files.items():
        raw = read_json(metadata_path_for(state.photostream_dir, name))
        photo = Photo.from_metadata(raw) or Photo()
        state.note_not_original(pid, photo.file)
        kept = photo.kept(from_file=True)
        kept.id = pid
        photos.append(kept)
        for group in map(as_dict, as_list(as_dict(as_dict(raw).get(EXPORT_KEY)).get('groups'))):
            if as_scalar(group.get('id')):
                state.export_groups.setdefault(str(as_scalar(group['id'])), []).append(pid)
    photos.sort(key=lambda p: (to_int(p.dateupload), to_int(p.id)), reverse=True)
    order = {p.id: i for i, p in enumerate(photos)}
    for ids in state.export_groups.values():   # each pool in photostream order too
        ids.sort(key=order.get)
    return photos


def dest_account(dest):
    """The NSID of the account whose mirror `dest` holds (dest/account/'s profile, else a
    photo's listing), or None for a new mirror."""
    profile = as_dict(read_json(os.path.join(dest, ACCOUNT_DIR, 'account_profile.json')))
    if as_scalar(profile.get('nsid')):
        return as_scalar(profile.get('nsid'))
    try:
        entries = os.scandir(os.path.join(dest, PHOTOSTREAM_DIR))
    except OSError:
        return None
    with entries:
        read = 0
        for entry in entries:
            if read >= 20:   # a few tell: a mirror is of one account
                break
            if entry.name.endswith(METADATA_SUFFIX):
                read += 1
                owner = as_scalar(as_dict(as_dict(read_json(entry.path)).get('listing')).get('owner'))
                if owner:
                    return owner
    return None


# Enrichment that takes less than this within the budget comes before the views, which are
# then made once; a longer one comes after them, and they are made again when it is done.
QUICK_ENRICHMENT = 60.0


def make_all_views(args, state, albums, tree, enrich, thumbnails, executor, stats, reporter):
    """The views and enrichment: a quick enrichment first, with the thumbnails coming
    beside it, and the views once; a long one (hours, at a small budget) after the views
    (the thumbnails coming beside the sidecars), which then show what it read.  After an
    incomplete listing the order and the views of the last complete one stay: rewritten from
    a partial listing they would show photos we hold as missing."""
    if views_kept(state):
        enrich.run()
        return
    views_state = ViewsState(executor, force=args.verify)
    shown = ([] if args.no_xmp else [XmpView(state, albums, tree)]) + \
        ([] if args.no_html else [HtmlView(state, albums, tree, reporter)])
    views = [PhotostreamOrderView(state), NotOriginalView(state)] + shown
    if enrich.seconds_needed() < QUICK_ENRICHMENT:   # the views once, with what it read
        with thumbnails.coming():
            enrich.run()
        make_views(views, views_state, stats, reporter)
        return
    html = [view for view in views if isinstance(view, HtmlView)]
    with thumbnails.coming():   # beside the sidecars, which need none; in place before the pages
        make_views([view for view in views if view not in html], views_state, stats, reporter)
    make_views(html, views_state, stats, reporter)   # browsable while the metadata is read for hours
    if enrich.run():
        make_views(shown, views_state, stats, reporter)   # they gain what enrichment read


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

EPILOG = """\
examples:
  %(prog)s /mnt/backup/flickr/                 first mirror (logs in once), or update it
  %(prog)s -q /mnt/backup/flickr/              from cron: prints errors only
  %(prog)s --statistics --delete-unknown DEST  also remove what you deleted on Flickr
  %(prog)s --no-browser DEST                   log in on a machine without a browser
  %(prog)s DEST --import-export FOLDER         no API key (new ones need Pro): from the export

exit status: 0 everything mirrored, 1 some items failed, 2 usage / configuration / login
error, 3 another run is mirroring into DEST, 130 interrupted.
"""


def positive_int(value):
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number' % value)
    if number < 1:
        raise argparse.ArgumentTypeError('%r must be at least 1' % value)
    return number


def seconds(value):
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number of seconds' % value)
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError('%r must be a finite number of seconds, 0 or more' % value)
    return number


def build_parser():
    parser = argparse.ArgumentParser(
        prog=program_name(),
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
                             'download damaged or missing files again, and make the HTML view and XMP '
                             'sidecars again (with --dry-run: report them only)')
    parser.add_argument('--no-html', action='store_true', help='do not write the browsable index.html pages')
    parser.add_argument('--no-xmp', action='store_true',
                        help='do not write the .xmp sidecars (for digiKam, Immich, darktable, Lightroom)')
    parser.add_argument('--ignore-photos', action='store_true', help='do not mirror photos')
    parser.add_argument('--ignore-videos', action='store_true', help='do not mirror videos')
    parser.add_argument('--import-export', action='append', metavar='PATH',
                        help='fill the mirror in from Flickr\'s data export ("Request my Flickr data" at '
                             'flickr.com/account): its zips, a folder holding them, or the export unzipped; '
                             'the originals Flickr\'s API refuses (videos, a free account\'s photos over '
                             '1024 px) replace the versions kept.  Without an API key (or with --offline) '
                             'the export alone makes the whole mirror.  One path each time: repeat it for '
                             'several (--import-export A --import-export B)')
    parser.add_argument('--offline', action='store_true',
                        help='make or update the mirror from the data export alone (--import-export), '
                             'without Flickr\'s API, even where an API key is configured (the default '
                             'when there is no key)')
    parser.add_argument('--favorites', action='store_true',
                        help='also keep your favourites, other people\'s photos, in DEST/%s/ with their owner and '
                             'licence (--delete-unknown removes one you no longer fave)' % FAVORITES_DIR)
    parser.add_argument('--delete-unknown', action='store_true',
                        help='delete local photos that are no longer on Flickr (after a complete listing only)')
    parser.add_argument('--force', action='store_true',
                        help='with --delete-unknown: delete even more than %d percent of the mirror'
                             % int(DELETE_SHARE_LIMIT * 100))
    parser.add_argument('-j', '--jobs', type=positive_int, default=DEFAULT_JOBS,
                        help='parallel downloads (default %d)' % DEFAULT_JOBS)
    parser.add_argument('--max-calls-per-hour', type=positive_int, default=DEFAULT_MAX_CALLS_PER_HOUR,
                        help='API call budget (default %d; Flickr allows about 3600)' % DEFAULT_MAX_CALLS_PER_HOUR)
    parser.add_argument('--wait-for-quota', action='store_true',
                        help='when Flickr\'s hourly limit of API calls is used up, wait for it to free up '
                             'and go on (the default on a terminal); otherwise the run stops cleanly, '
                             'keeping every file, and the next run goes on')
    parser.add_argument('--page-size', type=positive_int, default=PAGE_SIZE, metavar='N',
                        help='photos per listing page (default and most %d); smaller pages mean more '
                             'calls, but a short page costs less to ask for again' % PAGE_SIZE)
    parser.add_argument('--retries', type=positive_int, default=RetryPolicy.attempts,
                        help='attempts per request before an item counts as failed (default %d)'
                             % RetryPolicy.attempts)
    parser.add_argument('--retry-wait', type=seconds, default=RetryPolicy.initial_wait, metavar='SECONDS',
                        help='first wait before a retry, doubled each time, at most %d s (default %g)'
                             % (RetryPolicy.max_wait, RetryPolicy.initial_wait))
    parser.add_argument('--api-key', help='Flickr API key (or FLICKR_API_KEY, or the config file)')
    parser.add_argument('--api-secret', help='Flickr API secret (or FLICKR_API_SECRET)')
    parser.add_argument('--config', metavar='FILE', help='config file (default %s)' % default_config_path())
    parser.add_argument('--token-dir', metavar='DIR',
                        help='where the login token is kept (default ~/.flickr)')
    parser.add_argument('--no-browser', action='store_true',
                        help='log in by copying a code instead of opening a web browser')
    parser.add_argument('--relogin', action='store_true',
                        help='log in again; the stored login is replaced once the new one is stored')
    return parser


class Options(argparse.Namespace):
    """The command line as parsed, read-only: what a run learns goes to its RunContext."""

    def __setattr__(self, name, value):
        raise AttributeError('the options are read-only after parsing (%s); a run keeps what it learns '
                             'in its RunContext' % name)


def parse_options(argv):
    options = Options()
    options.__dict__.update(vars(build_parser().parse_args(argv)))
    return options


@dataclass(slots=True)
class RunContext:
    """What a run learns as it goes, beside the options it was given."""
    options: Options
    reporter: Reporter
    stats: Stats
    stop_event: threading.Event
    destination: str = ''        # the destination as resolved (absolute, ~ expanded)
    export: object = None        # the data export given with --import-export (ExportImport / ExportAlone)
    free_account: bool = False   # a free account: Flickr refuses its originals over 1024 px
    account: str = None          # the NSID of the account mirrored (its login, or the export's)
    started: bool = False        # the destination is claimed: an interrupted run has a mirror to resume


def check_flags(args, reporter):
    """Flags that contradict each other are refused; one that does nothing is said so."""
    if args.ignore_photos and args.ignore_videos:
        raise FatalError('--ignore-photos and --ignore-videos together leave nothing to mirror.', EXIT_USAGE)
    if args.quiet and args.verbose:
        raise FatalError('-q (errors only) and -v (every file) ask for opposite things; choose one.', EXIT_USAGE)
    if args.page_size > PAGE_SIZE:
        raise FatalError('--page-size %d: Flickr lists at most %d photos a page.' % (args.page_size, PAGE_SIZE),
                         EXIT_USAGE)
    if args.force and not args.delete_unknown:
        reporter.warning('--force only matters with --delete-unknown; nothing is deleted in this run.')


def run(ctx):
    args, reporter, stats, stop_event = ctx.options, ctx.reporter, ctx.stats, ctx.stop_event
    check_flags(args, reporter)
    ctx.destination = os.path.abspath(os.path.expanduser(args.destination))
    check_destination(ctx.destination, args.quiet)
    if args.offline and not args.import_export:
        raise FatalError('--offline makes the mirror from Flickr\'s data export alone: give its zips with '
                         '--import-export PATH.', EXIT_USAGE)
    api_key, api_secret = (None, None) if args.offline else find_api_credentials(
        args, os.environ, ask=not args.import_export)
    ctx.export = ((ExportImport if api_key else ExportAlone)(args.import_export, reporter, stats, stop_event)
                  if args.import_export else None)
    configure_endpoints(os.environ.get('FLICKR_API_BASE'))
    if not api_key:   # no API key: the export alone makes the mirror
        return run_export_only(ctx)
    # Log in before touching the destination: a failed first login leaves nothing behind.
    token = login(api_key, api_secret, token_cache_dir(args), reporter,
                  use_browser=not args.no_browser and browser_available(), relogin=args.relogin)
    policy = RetryPolicy(attempts=args.retries, initial_wait=args.retry_wait, stop_event=stop_event)
    pacer = CallPacer(args.max_calls_per_hour, stop_event=stop_event)
    client = FlickrClient(api_key, api_secret, token, pacer, stats, policy, reporter, page_size=args.page_size,
                          wait_for_quota=args.wait_for_quota or sys.stdout.isatty())
    try:
        user = client.test_login()
    except TransientError as e:
        raise FatalError('Cannot reach Flickr: %s' % e)
    except QuotaSpent as e:
        raise FatalError('%s.  Run again then, or with --wait-for-quota.' % e)
    if ctx.export is not None:
        ctx.export.check_account(user.get('id'))
    ctx.free_account = account_is_free(client, user.get('id'), reporter)
    ctx.account = user.get('id')
    with destination_claimed(ctx):
        reporter.info("Mirroring the Flickr account of %s into '%s'" % (text_of(user.get('username')),
                                                                       ctx.destination))
        try:
            state = mirror_account(ctx, client)
        except QuotaSpent as e:
            raise FatalError('%s.  Nothing was deleted; run again then, or with --wait-for-quota, and the '
                             'mirror goes on from where it stopped.' % e)
        except TransientError as e:
            raise FatalError('Flickr kept failing: %s.  Nothing was deleted; run again later and the '
                             'mirror resumes where it stopped.' % first_line(e))
        if state.incomplete:
            reporter.error('the listing was incomplete: %s; nothing was deleted.  Flickr answered some '
                           'pages short or the account changed while it was read: run again later.'
                           % '; '.join(state.incomplete))
        reporter.info(stats.summary(args.dry_run))
        return stats.exit_status()


@contextlib.contextmanager
def destination_claimed(ctx):
    """The destination made and locked for the run (one run at a time), the leftovers of a
    killed run removed, a new mirror announced; a dry run reads only: no directory, no lock,
    no clean-up."""
    args, reporter, dest = ctx.options, ctx.reporter, ctx.destination
    new_mirror = not os.path.isdir(os.path.join(dest, PHOTOSTREAM_DIR))
    ctx.started = True   # from here an interrupted run has a mirror to resume
    lock = None
    guard_destination(dest)
    if not args.dry_run:
        prepare_destination(dest)
        lock = lock_destination(dest)
    try:
        if lock is not None:
            remove_leftover_temp_files(dest)
        # Quoted: a stray space at the end of a path would otherwise start a second mirror unseen.
        if new_mirror:
            reporter.info("%s a new mirror in '%s'" % ('Would create' if args.dry_run else 'Creating',
                                                       dest))
        yield
    finally:
        if lock is not None:
            os.close(lock)


def run_export_only(ctx):
    """The mirror from Flickr's data export alone (no API key, or --offline): the export's
    account is said, and a destination holding another account's mirror is refused."""
    args, reporter, stats = ctx.options, ctx.reporter, ctx.stats
    nsid, name = ctx.export.account()
    theirs = dest_account(ctx.destination)
    if theirs and theirs != nsid:
        raise FatalError('%s holds the mirror of another Flickr account (%s); this data export is of %s (%s): '
                         'nothing was imported.' % (ctx.destination, theirs, name, nsid), EXIT_USAGE)
    ctx.account = nsid
    if args.delete_unknown:
        reporter.warning('--delete-unknown needs Flickr\'s listing: a run from the data export alone deletes '
                         'nothing.')
    with destination_claimed(ctx):
        reporter.info("Mirroring Flickr's data export of %s (%s) into '%s', without Flickr's API"
                      % (name, nsid, ctx.destination))
        mirror_export(ctx)
        reporter.info(stats.summary(args.dry_run))
        return stats.exit_status()


def interrupt(signum, frame):
    """cron and service managers stop jobs with SIGTERM: treat it like Ctrl+C."""
    raise KeyboardInterrupt


# glibc's mallopt() parameter: blocks this big or bigger are mapped on their own.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024   # glibc's own starting value


def keep_big_blocks_out_of_the_heap():
    """glibc raises its mmap threshold each time a mapped block is freed (up to 32 MiB), so
    the big blocks a run reads and drops by the thousand (listing pages, the albums' lists,
    sets and dicts as they grow) come to be cut from the heap, and the holes they leave
    between lasting objects stay resident.  Held at its starting value they are mapped and
    given back whole: the first mirror of 100,000 photos peaks at 163 MiB against 175
    (bench/bench.py --rss-photos 100000).  Without glibc (musl, macOS) nothing to hold."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def main(argv=None):
    # What is loaded before the run (modules, their functions and classes) lives to its end:
    # kept out of the collector's full passes, which would scan it again each time (an
    # unchanged re-run of 10,000 photos in bench/: 2.6 s against 2.9, medians of 9).  Here,
    # not under __main__, so that the installed command has it too.
    sigint = quiet_interrupts_while_starting()
    gc.freeze()
    keep_big_blocks_out_of_the_heap()
    args = parse_options(argv)
    # flickrapi logs failed requests with their OAuth parameters (the token among them):
    # keep that out of the output; our own messages say what went wrong.
    flickrapi_log = logging.getLogger('flickrapi')
    flickrapi_log.addHandler(logging.NullHandler())
    flickrapi_log.propagate = False
    reporter = Reporter(quiet=args.quiet, verbose=args.verbose, progress=sys.stdout.isatty())
    stats = Stats()
    ctx = RunContext(args, reporter, stats, threading.Event())
    signal.signal(signal.SIGTERM, interrupt)
    try:
        if sigint is not None:   # from here on Ctrl+C stops the run as it should (below)
            signal.signal(signal.SIGINT, sigint)
        status = run(ctx)
    except KeyboardInterrupt:
        ctx.stop_event.set()
        if ctx.started:
            reporter.error('interrupted; the mirror resumes where it stopped on the next run.')
            reporter.info(stats.summary(args.dry_run, interrupted=True))
        else:   # at a prompt, or before: there is nothing to resume
            reporter.error('interrupted before the mirror started; the mirror was not touched.')
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
    if status == EXIT_PARTIAL and not stats.failures():   # the run itself stopped: count that too
        stats.stopped += 1
    if status == EXIT_INTERRUPTED:
        stats.interrupted = 1
    if status != EXIT_OK and args.quiet:
        reporter.release_warnings()
        if not reporter.errors:   # a failure no error line named: the end-of-run line says what failed
            reporter.error(stats.summary(args.dry_run))
    if args.statistics:
        print('\n'.join(stats.lines()))
    sys.stdout.flush()
    return status


if __name__ == '__main__':
    sys.exit(main())
