#!/usr/bin/env python3
"""fakeflickr — a local, faithful emulation of the Flickr API, for tests.

Nothing in the test environment can reach flickr.com, so flickrmirrorer is tested
against this server: real HTTP/1.1 (keep-alive) on 127.0.0.1, real OAuth 1.0a
(HMAC-SHA1, verified), REST answers shaped like the recorded real responses in
testdata/flickr-api-samples, static image/video files, and
switchable faults.

Design
------
* **Account model** (``Account``, ``Photo``, ``Album``, ``Collection``): plain
  slotted dataclasses held in memory.  Everything is generated deterministically
  from ``seed`` by ``generate_account`` (100 000 photos take a few seconds).
  File bytes are never stored: they are derived on demand from
  ``(seed, photo id, version)`` by the *content generation* functions, so the
  same URL always serves the same bytes until ``replace_photo`` bumps the
  version (and the secrets, which makes the old URLs 404).
* **Logical clock**: every mutation advances ``FakeFlickr.clock`` by at least one
  second (``max(now, clock + 1)``), so ``lastupdate`` / ``date_update`` change
  even when two mutations happen within the same wall-clock second.
* **REST**: ``API_METHODS`` maps Flickr method names to small functions that
  return plain dicts shaped like the JSON samples (``{"_content": ...}`` text
  nodes, ids as strings, the samples' mix of ints and strings).  The same dict is
  rendered as JSON, JSONP (``jsonFlickrApi(...)``) or Flickr XML by a generic
  converter (scalars -> attributes, ``_content`` -> text, dicts -> child
  elements, lists -> repeated elements).
* **OAuth**: request-token / authorize (auto-approve) / access-token endpoints,
  and signature verification of every REST call with oauthlib's RFC 5849
  helpers (base string over the URL as the client requested it, Host header).
  Nonces are remembered (a re-sent signed request is rejected), timestamps
  must be within +-600 s.
* **Faults** (``Faults``): latency, bandwidth, random 5xx/429/105/drop/truncate/
  HTML answers, an hourly per-key quota (its window configurable), and deterministic
  one-shot faults (``faults.schedule``, optionally only for one method, parameter
  value or file path).  Randomness comes from ``random.Random(fault_seed)``.
* **The unkind Flickr** (all off by default; see "Unkind Flickr" below).
* **Control endpoint** ``/_fake/...`` (stats, faults, mutations, tokens) for
  shell use and benchmarks; not OAuth-protected.
* **Server**: ``ThreadingHTTPServer`` in a daemon thread; ``FakeFlickr`` is the
  Python API (context manager) used by tests.  ``python3 fakeflickr.py`` serves
  from the command line.

Unkind Flickr
-------------
Behaviours the real service is documented to have, each off by default:

* **Video renditions** (always on): a video's getSizes lists 'Video Player' (the Flash
  .swf; same dims as Site MP4; not a rendition) and the MP4 renditions of
  ``VIDEO_RENDITIONS`` that fit its height: 'Site MP4', 'Mobile MP4', 'HD MP4' (with
  width/height) and '1080p', '720p', '360p', '288p', '700', 'iphone_wifi' (empty width and
  height, as in the 2024 sample).  Heights among those with dims are distinct, so "the best
  rendition = the greatest height" is unambiguous.  Each has its own play URL
  (``/photos/<nsid>/<id>/play/<variant>/<secret>/`` -> 302 -> signed ``/video/...``) and its
  own bytes.  ``video_renditions(id)``, ``rendition_bytes(id, label)``.
* **Video play addresses** (always on): what getSizes lists for a video is exactly what a
  client builds from a listing record, relative to the fake's base:
  ``/photos/<owner>/<id>/play/orig/<originalsecret>/`` (Video Original) and
  ``/photos/<owner>/<id>/play/<variant>/<secret>/`` (a rendition: 'site', 'mobile', 'hd',
  '1080p', '720p', '360p', '288p', '700', 'iphone_wifi'), ``<owner>`` being the listing's
  ``owner`` NSID (photosets.getPhotos: the photoset's) or its ``pathalias``; any other user
  part answers 404.  Same URL, same redirect, same bytes, same refusal as the getSizes one.
  With a path alias (``FakeFlickr(path_alias=...)``, CLI ``--path-alias``, mutation
  ``set_path_alias``) getSizes, getInfo and the photo pages use it, as in the 2024 samples
  ('brampitoyo'); without one ``pathalias`` is null and they use the NSID.
* **Video originals refused** (``Faults.video_originals``): 'offered' (per video,
  ``Photo.video_original_available``, changed by the ``offer_video_original`` mutation),
  '404' (getSizes lists 'Video Original' for EVERY video, its play/orig URL answers 404) or
  'login' (that URL answers 302 to ``/signin/?acf=...``, a 200 HTML login form).  The URL is
  the same in every mode, so a client that kept it can try again later.
* **Short pages** (``short_page_rate``; schedulable kind 'short'): a page of
  people.getPhotos or photosets.getPhotos that is not the last comes back without 1..half
  of its items (anywhere in the page) while page, pages, perpage / per_page and total stay
  right; a repeat may come back whole.  ``faults.schedule('short', count=N, method=...,
  params={'page': 2})`` shortens the next N matching listing requests (``count=10**6``: for
  ever); a scheduled 'short' waits for a listing request (other methods do not use it up),
  and one that hits the LAST page is used up but leaves that page whole.  Each page actually
  shortened counts as fault 'short' in ``stats()``.
* **Mid-walk mutations**: ``faults.schedule_mutation(action, args, method, params)`` runs
  mutation ``action(**args)`` (one of MUTATIONS) once, just before the next REST request
  that matches (e.g. page 2 of people.getPhotos): offset paging then shifts items across
  page boundaries, as on Flickr.  Also ``POST /_fake/faults {"schedule_mutation": {...}}``
  or ``POST /_fake/schedule_mutation {...}``; results in ``fake.mutation_log``.
* **Code 201** (``fail_201_rate``; kind '201'): HTTP 200, stat fail, code 201, "Sorry, the
  Flickr API service is not currently available." (the Flickr-Foundation/flickr-photos-api
  cassette), in JSON and XML like the 105 fault.
* **Placeholders** (``placeholder_rate``; kind 'placeholder'): a photo's `_o` static URL
  answers 302 to ``/images/photo_unavailable.gif``, a 200 ``image/gif`` whose header says
  500x375 (no original has those dims).  Only photo originals, not derived sizes or a
  video's still frame.
* **File 429** (``file_429_rate``; kind 'file_429'): static, play and video file requests
  answer 429, with ``Retry-After: <retry_after>`` per ``file_retry_after``: 'always',
  'never' or 'mixed' (a seeded coin per answer).  ``rate_429`` is unchanged.
* **Free account** (``free_account``; CLI ``--free-account``; ``POST /_fake/faults
  {"free_account": true}``): Flickr's limit on free accounts since 15 May 2025 (its blog,
  2025-04-15; gallery-dl #7381, #8591).  people.getInfo says ``ispro`` 0 (1 when off).  For
  the account's own photos whose longest side is over 1024 px: listings offer no ``url_h`` /
  ``url_k`` / ``url_o`` (nor their width/height), getSizes stops at 'Large' (1024), and the
  static ``_h``, ``_k`` and ``_o`` URLs answer 403 with an HTML body.  ``originalsecret``,
  ``originalformat`` and ``o_width`` / ``o_height`` stay: the original is still stored (the
  data export holds it, and its name uses them), only its download is refused; nothing
  reports those fields gone, so a client must not take o_dims as a promise of ``url_o``.
  Photos of 1024 px or less keep their Original; videos and favourites are unchanged.
  ``best_file`` gives 'Large' (the ``_b`` JPEG) for the limited photos.
* **CDN 403 on originals** (``cdn_403_rate``, ``cdn_403_burst``; kind 'cdn_403'; CLI
  ``--cdn-403-rate`` / ``--cdn-403-burst``): a photo's ``_o`` static URL answers ``403
  Forbidden`` with an HTML body, in bursts: a hit (a seeded draw per ``_o`` request) starts a
  burst of 1..``cdn_403_burst`` (default 3) such answers to that and the next ``_o``
  requests, whichever photo they are for; after it a retry succeeds.  Evidence:
  markdoliner/flickrmirrorer PR #25 (2024-10), Flickr's CDN answering 403 to ``_o``
  requests, a retry after about 10 s working.  Schedulable: ``faults.schedule('cdn_403',
  count=N, path='/<id>_')`` (waits for a photo's ``_o`` request, like 'placeholder').  Not
  derived sizes, not a video's still frame.  Counted as fault 'cdn_403' in ``stats()``.
* **A stale path alias** (``listing_path_alias``; CLI ``--listing-path-alias``): listings send this ``pathalias`` in place
  of the account's, so every play address a client builds from a video's listing record
  answers 404; getSizes lists the working ones.  Flickr's play addresses are not documented:
  a changed alias or address scheme breaks the built ones the same way.
* **Dates taken and turns** (mutations ``set_date_taken(id, taken=None, granularity=None,
  unknown=None)`` and ``rotate_photo(id, rotation)``, also ``POST /_fake/mutate {"action":
  "set_date_taken", "args": {...}}``): ``taken`` is any string and is served verbatim
  (listing ``datetaken``, getInfo ``dates.taken``), invalid ones included ('0000-00-00
  00:00:00', '2019-02-30 25:61:00', '1850-07-04 12:00:00'); ``granularity`` 0 / 4 / 6 / 8 goes
  to ``datetakengranularity`` / ``takengranularity`` and ``unknown`` to ``datetakenunknown`` /
  ``takenunknown`` (strings, as in the samples).  ``rotation`` (0/90/180/270) is getInfo's
  ``rotation`` attribute; as Flickr's getInfo documentation says, the smaller sizes are the
  ones turned: getSizes, ``url_*`` and the ``_s``..``_k`` files carry turned dimensions
  (width and height swapped for 90 and 270) while the Original (``o_width`` / ``o_height``,
  ``width_o`` / ``height_o``, the ``_o`` file) stays as uploaded.  Rotating renews ``secret``
  (flickr.photos.transform.rotate answers with a new one).  Both are edits (lastupdate).
* **Account quirks** (``FakeFlickr(quirks=True)``, CLI ``--quirks``; per photo the
  ``set_quirks`` mutation; flags on ``Photo``): ``no_original`` (about 1 photo in 8, at
  least one, never a video): no url_o / o_width / o_height / originalsecret /
  originalformat in listings and getInfo, no 'Original' in getSizes, its `_o` URL 404s;
  ``no_originalformat`` (about 1 in 8 of the others, png or gif among them): originalformat
  absent (url_o and originalsecret stay); ``zero_datetaken`` (about half the videos, at
  least one): datetaken '0000-00-00 00:00:00' with datetakenunknown '0'.
* **REALISTIC** (module dict): the switches above (but free_account, cdn_403 and the
  mutations) at rates a resilient client gets through
  (video originals 'login', 10 % short pages, 5 % code 201, 5 % placeholders, 5 % file
  429s with mixed Retry-After, retry_after 1, hourly_limit 3600).  ``python3 fakeflickr.py
  --realistic`` applies it and ``--quirks``; ``POST /_fake/faults {"realistic": true}`` and
  ``faults.update(realistic=True)`` apply the fault settings (quirks belong to the account:
  construct with ``quirks=True``).  Each switch also has a CLI flag (``--video-originals``,
  ``--short-page-rate``, ``--fail-201-rate``, ``--placeholder-rate``, ``--file-429-rate``,
  ``--file-retry-after``, ``--retry-after``, ``--hourly-limit``, ``--fault-seed``,
  ``--free-account``, ``--cdn-403-rate``, ``--cdn-403-burst``; ``python3 fakeflickr.py --help``
  describes every flag).
  Every random decision comes from ``Faults`` rng (``fault_seed``), per request, so the same
  seed and the same request sequence give the same faults, and a retry can come back good.
* For tests to wait on or move instead of sleeping: ``connections_done`` (connections the
  server has finished with, any error already said) and ``hourly_clock`` (the hourly limit's
  clock, ``time.time`` unless replaced).  ``stats()['before_retry_after']`` counts, per 'api'
  and 'file', the requests that came while the last 429's Retry-After of their kind was still
  running (after ``in_flight`` seconds, ``IN_FLIGHT`` by default, when a request could still be one sent before the 429
  was seen): a client that honours Retry-After leaves it empty.
* ``best_file(id)`` -> (label, bytes, ext): what a careful client keeps under the current
  switches (for a photo without an Original: its largest size, 'jpg');
  ``photo_file_bytes(id)`` is its bytes.

What others add (always on: they are account content, not faults)
-------------------------------------------------------------------
Generated from the seed by a random stream of their own (``random.Random('social:<seed>')``),
so the photos, albums and favourites of a seed are the same as without them.  Shapes follow
the recorded answers named in testdata/flickr-api-samples/README.md; where only an XML answer
exists the JSON carries ids, counts and box coordinates as strings, ``page`` / ``pages`` /
``perpage`` and ``iconfarm`` as numbers, as the JSON samples of other methods do.

* **Notes** (``Photo.notes``, ``Note``): getInfo's ``notes.note`` [{id, photo_id, author,
  authorname, authorrealname, authorispro, authorisdeleted, x, y, w, h, _content}] (the 2025
  sample's attributes), boxes in the photo's 500-pixel frame (``note_frame``: its 'Medium' size
  as turned by its rotation).  About 1 photo in 7 has 1..4 notes by the owner or others; one
  photo has 32 (``MANY_NOTES``); videos none.  Mutations ``add_note(photo_id, text, x, y, w,
  h, author=None)`` -> note id and ``delete_note(photo_id, note_id)``; both move lastupdate.
* **People** (``Photo.people``, ``PersonTag``): getInfo's ``people.haspeople`` 1 when any;
  ``flickr.photos.people.getList`` -> ``people`` {total, photo_width, photo_height, person:
  [{nsid, username, iconserver, iconfarm, path_alias, added_by, is_deleted, realname (absent
  when hidden), h, w, x, y (only with a box)}]}.  The account's first photo surely has two
  boxed people (one with a hidden real name), its newest photo two without boxes.  Mutation
  ``add_person(photo_id, user=None, box=None)`` (user: index, NSID or username of
  ``account.others``; None the owner); lastupdate moves.
* **Favourites** (``account.favorites``): ``flickr.favorites.getList`` (``min_fave_date``,
  ``max_fave_date``, ``extras``, paging; newest fave first) with the listing's extras of the
  OTHER owners' photos (owner, ownername, license, url_*, originalformat ...) and
  ``date_faved``.  Among them a video and a CC BY photo whose owner lets no one download its
  original (no url_o / originalsecret, its ``_o`` 404s).  Their static and play URLs are
  served like the account's (the free-account limit does not apply).  Mutations
  ``add_favorite(photo_id=None, owner=0, media='photo')`` (a new photo of another user, or a
  known one of ``account.others_photos``) -> photo id and ``remove_favorite(photo_id)``.
* **Galleries** (``account.galleries``, ``Gallery``): ``flickr.galleries.getList`` ->
  ``galleries`` {total, page, pages, per_page, user_id, gallery: [{id (compound), gallery_id,
  url, owner, username, iconserver, iconfarm, primary_photo_id, date_create, date_update,
  count_photos, count_videos, count_total, count_views, count_comments, sort_group,
  primary_photo_server / _farm / _secret, title, description, primary_photo_extras (when
  asked)}]} (the 2024 getListForPhoto sample's element), newest first;
  ``flickr.galleries.getPhotos`` (gallery_id, extras, paging) -> ``photos`` of standard
  records plus is_primary, has_comment and the curator's ``comment``;
  ``flickr.galleries.getListForPhoto`` (photo_id, paging) -> ``galleries`` {total, page,
  pages, per_page, photo_id, gallery: [...]} of the account's galleries holding the photo (the
  fake knows no other users' galleries).  Three galleries: the
  account's photos with others', others' only, one photo.  Mutations ``create_gallery(title,
  photo_ids, description='')`` -> id and ``add_to_gallery(gallery_id, photo_id, comment='')``.
* **Groups and pools** (``account.groups``, ``Group``): ``flickr.people.getGroups`` ->
  ``groups.group`` [{nsid, name, iconfarm, iconserver, admin, eighteenplus, invitation_only,
  members, pool_count}]; ``flickr.photos.getAllContexts`` adds ``pool`` [{title, url, id,
  iconserver, iconfarm, members, pool_count}] for each group holding the photo (2024 sample);
  ``flickr.groups.pools.getPhotos`` (group_id, user_id, extras, paging) -> ``photos`` with
  ownername and dateadded, newest first, the account's photos and others'.  Four groups, the
  last one the account never posted to.  Mutation ``add_to_pool(group_id, photo_id)``.
* **Album comments** (``Album.comment_list``; ``Album.comments`` is its length, as getList's
  count_comments): ``flickr.photosets.comments.getList`` -> ``comments`` {photoset_id,
  comment: [{id, author, authorname, date_create, permalink, _content}]} (no ``comment`` when
  none).  Mutation ``add_album_comment(album_id, text)`` -> id (date_update stays).
* **Places**: getInfo's ``location`` names locality, county, region, country and
  neighbourhood (``_content``; '' where none), with place_id / woeid.
* **Licences**: ``flickr.photos.licenses.getInfo`` -> ``licenses.license`` [{id, name,
  url}], Flickr's list of 19 Jun 2025 (``LICENSES``).
* Every mutation is also ``POST /_fake/mutate {"action": ..., "args": {...}}``; every call is
  counted per method in ``stats()['api_calls']``.  ``delete_photo`` also takes the photo out
  of galleries (a gallery left empty goes) and pools.
* The export carries them too: photo_<id>.json ``notes`` and ``groups``, ``groups.json``,
  ``sets_comments_part001.json`` and, with ``write_export(..., galleries=True)`` (CLI
  ``--export-galleries``; off by default: an account without galleries), ``galleries.json``
  (see the notes above ``EXPORT_LICENSES``); ``people`` stays ``[]`` as in real exports.

The data export
---------------
``fake.write_export(dir, files_per_zip=500, naming='data', empty_albums=False,
merge_friend_family=False, drop_zip=None, shapes=(), missing_media=0, galleries=False)`` (also
``POST /_fake/export {"dir": ..., ...}`` with the same keys, and ``python3 fakeflickr.py --write-export DIR`` with
``--export-files-per-zip``, ``--export-naming``, ``--export-empty-albums``,
``--export-merge-friend-family``, ``--export-drop-zip``, ``--export-galleries``) writes what
"Request my Flickr data" at flickr.com/account gives, from the same account and the same
bytes the fake serves:

* ``<17 digits>_<12 hex>_part1.zip``: ``account_profile.json``, ``account_testimonials.json``,
  ``albums.json`` (albums in getList order, each with its photos in album order),
  ``contacts_part001.json``, ``faves_part001.json``, ``followers_part001.json``,
  ``galleries.json``, ``group_discussions.json``, ``groups.json``,
  ``photos_comments_part001.json``,
  ``received_flickrmail_part001.json``, ``sent_flickrmail_part001.json``,
  ``sets_comments_part001.json`` and one ``photo_<id>.json`` per photo and video.
* media zips of ``files_per_zip`` files each (oldest upload first), named
  ``data_<digits>_<hex>_<n>.zip`` (naming 'data', Flickr's since 2025) or
  ``data-download-<n>.zip`` (naming 'data-download'), holding the TRUE originals, whatever
  the API refuses (free_account, video_originals, the no_original quirk):
  ``<title>_<id>_o.<ext>`` for photos, ``<title>_<id>.<ext>`` for videos, ``<id>_o.<ext>``
  when the title gives nothing.  The title is lower-cased, runs of characters other than
  letters, digits and '-' become one '_', '_' is stripped at both ends, 100 UTF-8 bytes at
  most (``export_slug``): the fake's choice, where Flickr's rule is undocumented.  The id is
  the last run of digits before ``_o.`` or the extension (``export_id_of``).
* Faults: ``empty_albums`` (every photo_<id>.json has ``"albums": []``; ``"people"`` is always
  ``[]``), ``merge_friend_family`` (friends-only and family-only both ``"friend & family"``),
  ``drop_zip=N`` (media zip N is not written; the manifest names it in ``missing_zips``).
* Shapes of real exports (``shapes``, CLI ``--export-shape NAME`` repeatable; each off by
  default, ``'real'`` all of them; the evidence for each is in the comment above
  ``EXPORT_SHAPES``): 'untitled-secret' (``<id>_<10-hex secret>_o.<ext>``), 'no-extension'
  (``<slug>_<id>_o``), 'upper-case' (``_O.JPG``), 'video-names' (``video_<id>.<ext>``),
  'ambiguous' (``<id>_<digits>_o.<ext>``, one of them naming another photo's id), 'non-ascii'
  (``café-au-lait-...`` slugs), 'geo-list' (``geo`` a list of one object), 'not-in-album'
  (synthetic "not in an album N" albums), 'zero-in-album' (``"0"`` among an album's photos),
  'metadata-parts' (the photo_<id>.json over ``_part1.zip``, ``_part2.zip``...),
  'account-shapes' (faves under "favorites", followers a bare list).  ``missing_media``
  (CLI ``--export-missing-media SHARE``): that share of the media files is in no zip.
* Returns a manifest ``{'dir', 'metadata_zip', 'metadata_zips', 'media_zips', 'missing_zips',
  'missing_media', 'files': {id: [zip name, member name]}}``.  Zip member times are fixed (the JSON files 2024-01-01, a
  media file its upload time), so the same account state gives the same zips byte for byte.
  ``export_file_bytes(id)`` is the exact bytes the export holds for an item,
  ``export_file_name(id)`` its name in the zip.  The evidence for every shape is in the
  comment above ``EXPORT_LICENSES``.

Notes
-----
* Titles are stored as given (including a NUL character in the hostile set);
  JSON carries them verbatim, XML drops characters that XML 1.0 cannot carry.  A lone
  surrogate in a title, description, tag or album title (``edit_photo(id, title='cut
  \\ud800')``, ``rename_album``; a title cut inside an emoji) goes out as its JSON escape
  with no partner, from the API and in the data export's JSON, as Flickr sends it.
* **A broken or hostile server** (mutation ``garble_photo(id, listed_id=None,
  originalformat=None)``): the listings give ``listed_id`` as the photo's id (e.g.
  ``'../../x'``), the listings and getInfo give ``originalformat`` verbatim (e.g. with a NUL);
  its files stay where they were.
* ``login_with_flickrapi`` points ``flickrapi.FlickrAPI.REST_URL`` and the three
  ``flickrapi.auth.OAuthFlickrInterface`` URL class attributes at this server and
  does not restore them (later FlickrAPI objects in the same process talk to
  the most recently logged-in fake).
* Mutate the account through the ``FakeFlickr`` methods (they keep caches and
  the clock right); read ``fake.account`` freely.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import math
import random
import re
import secrets
import signal
import sys
import threading
import time
import traceback
import urllib.parse
import zipfile
import zlib
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

# ---------------------------------------------------------------------------
# Account model
# ---------------------------------------------------------------------------

START_EPOCH = 1262304000   # 2010-01-01: generated uploads start here ...
END_EPOCH = 1704067200     # ... and end before 2024-01-01 (always < the clock)


@dataclass(slots=True, eq=False)
class Comment:
    id: str
    author: str
    authorname: str
    datecreate: int
    text: str


@dataclass(slots=True, eq=False)
class Photo:
    id: str
    media: str                      # 'photo' | 'video'
    title: str
    description: str
    tags: list                      # raw tags, e.g. 'New York'
    machine_tags: list              # e.g. 'camera:make=canon'
    secret: str
    originalsecret: str
    server: str
    farm: int
    originalformat: str             # 'jpg' | 'png' | 'gif'; 'jpg' (still frame) for videos
    video_ext: str                  # 'mp4' | 'mov' for videos, '' for photos
    video_original_available: bool
    dateupload: int
    datetaken: str                  # 'YYYY-MM-DD HH:MM:SS'
    datetakenunknown: int
    lastupdate: int
    ispublic: int
    isfriend: int
    isfamily: int
    license: int
    latitude: float | None
    longitude: float | None
    views: int
    comments: list
    faves: int
    version: int                    # bumped by replace_photo; part of the file content key
    width: int                      # original dimensions
    height: int
    duration: int = 0               # seconds, videos only
    owner: str = ''                 # '' = the account owner (set for favourites)
    ownername: str = ''
    # Account quirks (FakeFlickr(quirks=True) or the set_quirks mutation):
    no_original: bool = False       # a photo without an "Original" size (no url_o, _o 404s)
    no_originalformat: bool = False  # originalformat absent from listings and getInfo
    zero_datetaken: bool = False    # datetaken sent as '0000-00-00 00:00:00'
    rotation: int = 0               # degrees clockwise the derived sizes are turned (0/90/180/270)
    datetakengranularity: int = 0   # 0 exact, 4 month, 6 year, 8 circa
    notes: list = field(default_factory=list)       # Note, as getInfo lists them
    people: list = field(default_factory=list)      # PersonTag, as people.getList lists them
    # A broken or hostile server (the garble_photo mutation): what the listings and getInfo
    # send in place of the true id and originalformat; the files stay where they were.
    listed_id: str = None
    listed_originalformat: str = None

    @property
    def is_video(self):
        return self.media == 'video'

    @property
    def geotagged(self):
        return self.latitude is not None


@dataclass(slots=True, eq=False)
class Album:
    id: str
    title: str
    description: str
    primary: str
    photo_ids: list
    date_create: int
    date_update: int
    views: int = 0
    comments: int = 0                   # always len(comment_list)
    comment_list: list = field(default_factory=list)   # Comment, oldest first


@dataclass(slots=True, eq=False)
class Note:
    """A note drawn on a photo: a box in the 500-pixel frame (the 'Medium' size) and a text."""
    id: str
    author: str
    authorname: str
    authorrealname: str
    x: int
    y: int
    w: int
    h: int
    text: str


@dataclass(slots=True, eq=False)
class PersonTag:
    """A person marked in a photo, with a box in the 500-pixel frame or none."""
    nsid: str
    username: str
    realname: str                   # '' = hidden (people.getList then omits it)
    iconserver: str
    iconfarm: int
    path_alias: str
    added_by: str
    box: tuple | None = None        # (x, y, w, h)


@dataclass(slots=True, eq=False)
class Gallery:
    id: str                         # compound '<digits>-<gallery_id>', as the API takes it
    gallery_id: str
    title: str
    description: str
    items: list                     # [photo id, curator's comment ('' = none)], in gallery order
    primary: str
    date_create: int
    date_update: int
    views: int = 0


@dataclass(slots=True, eq=False)
class Group:
    nsid: str
    name: str
    slug: str                       # the group's URL name; '' = its URL uses the NSID
    iconserver: str
    iconfarm: int
    members: int
    admin: int = 0
    eighteenplus: int = 0
    invitation_only: int = 0
    pool: list = field(default_factory=list)    # [photo id, date added], newest first


@dataclass(slots=True, eq=False)
class Collection:
    id: str
    title: str
    description: str
    children: list = field(default_factory=list)    # sub-collections ...
    album_ids: list = field(default_factory=list)   # ... or albums (never both)


@dataclass(slots=True)
class OtherUser:
    nsid: str
    username: str
    iconserver: str
    iconfarm: int


class Account:
    """The emulated user's account; caches derived orders until the next touch()."""

    def __init__(self, nsid, username, realname, user_digits):
        self.nsid = nsid
        self.username = username
        self.realname = realname
        self.user_digits = user_digits          # prefix of collection ids
        self.location = 'Ærøskøbing, Denmark'
        self.path_alias = None                  # the user's URL name, when they chose one
        self.iconserver = '8033'
        self.iconfarm = 9
        self.photos: dict[str, Photo] = {}
        self.albums: dict[str, Album] = {}      # in photosets.getList order
        self.collections: list[Collection] = []
        self.favorites: list[tuple[Photo, int]] = []   # (other user's photo, date_faved)
        self.others: list[OtherUser] = []
        self.others_photos: dict[str, Photo] = {}   # other users' photos the account can see
        self.galleries: dict[str, Gallery] = {}     # in galleries.getList order (newest first)
        self.groups: dict[str, Group] = {}          # the groups the account is a member of
        self.version = 0
        self._cache = {}

    def touch(self):
        self.version += 1
        self._cache.clear()

    def _cached(self, name, build):
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def photostream_order(self):
        """Ids in people.getPhotos order: date uploaded descending, ties by id descending."""
        return self._cached('stream', lambda: [p.id for p in sorted(
            self.photos.values(), key=lambda p: (p.dateupload, int(p.id)), reverse=True)])

    def recently_updated_order(self):
        """Ids by lastupdate descending, ties by id descending."""
        return self._cached('recent', lambda: [p.id for p in sorted(
            self.photos.values(), key=lambda p: (p.lastupdate, int(p.id)), reverse=True)])

    def album_order(self):
        return list(self.albums)

    def albums_of(self, photo_id):
        def build():
            index = defaultdict(list)
            for album in self.albums.values():
                for pid in album.photo_ids:
                    index[pid].append(album.id)
            return index
        return self._cached('albums_of', build).get(photo_id, [])

    def not_in_set(self):
        return self._cached('not_in_set', lambda: [
            pid for pid in self.photostream_order() if not self.albums_of(pid)])

    def find_photo(self, photo_id):
        photo = self.photos.get(photo_id) or self.others_photos.get(photo_id)
        if photo is None:
            for fav, _ in self.favorites:
                if fav.id == photo_id:
                    return fav
        return photo

    def groups_of(self, photo_id):
        """The groups whose pool holds this photo, in people.getGroups order."""
        def build():
            index = defaultdict(list)
            for group in self.groups.values():
                for pid, _added in group.pool:
                    index[pid].append(group)
            return index
        return self._cached('groups_of', build).get(photo_id, [])

    def iter_collections(self, tree=None):
        """All collections, pre-order."""
        for col in self.collections if tree is None else tree:
            yield col
            yield from self.iter_collections(col.children)

    def find_collection(self, collection_id):
        return next((c for c in self.iter_collections() if c.id == collection_id), None)


# ---------------------------------------------------------------------------
# Account generation (deterministic from the seed)
# ---------------------------------------------------------------------------

def _exact_bytes_title(n=300):
    """A mixed-script title of exactly n UTF-8 bytes."""
    unit, out, i = 'Långt albumnamn 夏 – ', '', 0
    while len((out + unit[i % len(unit)]).encode()) <= n:
        out += unit[i % len(unit)]
        i += 1
    return out + 'x' * (n - len(out.encode()))


LONG_TITLE = _exact_bytes_title(300)
# Album titles take these in order, collections continue where the albums
# stopped (so 6 albums + 6 collections, the defaults, use every one once), and
# every 7th photo gets one too.
HOSTILE_TITLES = [
    '..', '2019/2020', 'Beach', 'beach', 'Twin title', 'Twin title', '../../etc',
    'Ærøskøbing – 夏 🌊', '.hidden', LONG_TITLE, '', 'a\x00b',
]
PHOTO_WORDS = ['Sunset', 'Harbour', 'Old town', 'Granny', 'Birthday', 'Snow', 'Market',
               'Cat', 'Bridge', 'Forest walk', 'Café', 'Mountains', 'Beach day']
TAG_WORDS = ['sunset', 'New York', 'family', 'bw', 'summer', 'winter', 'dog', 'cat',
             'travel', 'Zürich', 'night', 'macro', 'street', 'holiday']
MACHINE_TAGS = ['camera:make=canon', 'vision:night=077', 'geo:country=dk', 'upcoming:event=42']
PHOTO_DIMS = [(4000, 3000), (3000, 4000), (6000, 4000), (2048, 1536), (1024, 768),
              (640, 480), (800, 800)]
VIDEO_DIMS = [(1280, 720), (640, 480), (1920, 1080)]
PLACES = [  # (lat, lon, locality, county, region, country)
    (55.8757, 10.4122, 'Ærøskøbing', 'Ærø', 'Syddanmark', 'Denmark'),
    (45.8150, 15.9819, 'Zagreb', 'Grad Zagreb', 'Zagreb', 'Croatia'),
    (35.6895, 139.6917, '東京', 'Tokyo', 'Tokyo Prefecture', 'Japan'),
    (-33.8688, 151.2093, 'Sydney', 'Sydney', 'New South Wales', 'Australia'),
    (64.1466, -21.9426, 'Reykjavík', 'Reykjavík', 'Capital Region', 'Iceland'),
]


def _hex(rng, n=10):
    return '%0*x' % (n, rng.getrandbits(4 * n))


def _fmt_time(epoch):
    return time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(epoch))


def new_photo(rng, photo_id, media, fmt, video_ext, dateupload, lastupdate, title,
              video_original_available=True):
    """One Photo with random (but rng-determined) metadata."""
    geo = rng.random() < 0.3
    place = PLACES[rng.randrange(len(PLACES))]
    r = rng.random()
    privacy = ((1, 0, 0) if r < 0.65 else (0, 1, 0) if r < 0.75 else (0, 0, 1) if r < 0.82
               else (0, 1, 1) if r < 0.87 else (0, 0, 0))
    tags = rng.sample(TAG_WORDS, rng.randrange(4))
    machine = [rng.choice(MACHINE_TAGS)] if rng.random() < 0.1 else []
    w, h = rng.choice(VIDEO_DIMS if media == 'video' else PHOTO_DIMS)
    desc = '' if rng.random() < 0.7 else rng.choice(
        ['A <b>bold</b> description\nwith two lines', 'Ünïcödé description – 夏', 'Plain words'])
    taken = dateupload - rng.randrange(30 * 86400)
    return Photo(
        id=photo_id, media=media, title=title, description=desc, tags=tags,
        machine_tags=machine, secret=_hex(rng), originalsecret=_hex(rng),
        server=str(rng.randint(1000, 65535)), farm=rng.randint(1, 66),
        originalformat='jpg' if media == 'video' else fmt,
        video_ext=video_ext if media == 'video' else '',
        video_original_available=video_original_available if media == 'video' else False,
        dateupload=dateupload, datetaken=_fmt_time(taken),
        datetakenunknown=1 if rng.random() < 0.03 else 0, lastupdate=lastupdate,
        ispublic=privacy[0], isfriend=privacy[1], isfamily=privacy[2],
        license=rng.choice([0, 0, 0, 1, 2, 4, 9]),
        latitude=round(place[0] + rng.uniform(-0.05, 0.05), 6) if geo else None,
        longitude=round(place[1] + rng.uniform(-0.05, 0.05), 6) if geo else None,
        views=rng.randrange(2000), comments=[], faves=rng.randrange(5),
        version=1, width=w, height=h,
        duration=rng.randint(3, 120) if media == 'video' else 0)


def _new_comment(rng, account, photo, when):
    other = rng.choice(account.others)
    cid = '%s-%s-72157%012d' % (account.user_digits, photo.id, rng.randrange(10 ** 12))
    text = rng.choice(['Nice!', 'Wow 😍', 'Great <i>light</i>', 'Tolle Aufnahme', 'Where is this?'])
    return Comment(cid, other.nsid, other.username, when, text)


def _photo_title(rng, i, media, hostile):
    if not hostile:
        return '%s %d' % ('Video' if media == 'video' else 'Photo', i + 1)
    if i % 7 == 3:
        return HOSTILE_TITLES[(i // 7) % len(HOSTILE_TITLES)]
    if rng.random() < 0.4:
        return 'IMG_%04d' % rng.randrange(10000)
    return rng.choice(PHOTO_WORDS)


def _album_id(rng):
    return '72157%012d' % rng.randrange(10 ** 12)


def generate_account(seed=1, photos=40, videos=6, albums=6, collections=3, hostile_names=True):
    rng = random.Random(seed)
    digits = rng.randint(10_000_000, 199_999_999)
    account = Account('%d@N0%d' % (digits, rng.randint(2, 8)), 'mirror-tester',
                      'Zoë Ærøskøbing', str(digits + rng.randint(1, 999)))
    account.others = [OtherUser('%d@N0%d' % (rng.randint(10_000_000, 199_999_999), k % 9 + 1),
                                name, str(rng.randint(1000, 9999)), rng.randint(1, 9))
                      for k, name in enumerate(['pellethepoet', 'Janko Marohnić', 'brampitoyo',
                                                'jinxlib', '夏子'])]
    _generate_photos(rng, account, photos, videos, hostile_names)
    _generate_albums(rng, account, albums, hostile_names)
    titles = HOSTILE_TITLES[albums % len(HOSTILE_TITLES):] + HOSTILE_TITLES
    title_iter = iter(titles * (collections + 10)) if hostile_names else None
    account.collections = _generate_collections(rng, account, collections, title_iter)
    _generate_favorites(rng, account)
    _generate_social(account, seed)
    account.touch()
    return account


def _generate_photos(rng, account, n_photos, n_videos, hostile):
    n = n_photos + n_videos
    video_idx = set(rng.sample(range(n), n_videos)) if n_videos else set()
    span = END_EPOCH - START_EPOCH - 100 * 86400
    step = max(2, span * 4 // 5 // max(n, 1))
    t, pid = START_EPOCH, 5_000_000_000 + rng.randrange(1_000_000)
    k_photo = k_video = 0
    for i in range(n):
        if rng.random() >= 0.04:                    # ~4 % share an upload second
            t = min(t + rng.randint(1, 2 * step - 1), END_EPOCH - 100 * 86400)
        pid += rng.randint(1, 9999)
        if i in video_idx:
            media, fmt = 'video', 'jpg'
            ext, vo = ('mov' if k_video % 3 == 1 else 'mp4'), (k_video % 5 != 2)
            k_video += 1
        else:
            media, ext, vo = 'photo', '', False
            fmt = 'png' if k_photo % 13 == 5 else 'gif' if k_photo % 29 == 11 else 'jpg'
            k_photo += 1
        lastupdate = t + (rng.randrange(90 * 86400) if rng.random() < 0.5 else rng.randrange(60))
        photo = new_photo(rng, str(pid), media, fmt, ext, t, lastupdate,
                          _photo_title(rng, i, media, hostile), vo)
        if i == 1:
            photo.ispublic = photo.isfriend = photo.isfamily = 0   # surely one private
        if i == 2:
            photo.ispublic, photo.isfriend, photo.isfamily = 1, 0, 0
        if i == 0 or rng.random() < 0.15:
            for _ in range(rng.randint(1, 3)):
                photo.comments.append(_new_comment(rng, account, photo, t + rng.randrange(86400 * 30)))
        account.photos[photo.id] = photo
    if account.photos:
        account.next_photo_id = pid + 10_000


ZERO_DATETAKEN = '0000-00-00 00:00:00'      # what Flickr sends for some videos
TAKEN_GRANULARITIES = (0, 4, 6, 8)          # exact, month, year, circa (Flickr's date docs)


def apply_quirks(account, seed):
    """Deterministic account quirks: about 1 in 8 photos (at least one) without an Original,
    about 1 in 8 others (at least one, png or gif among them) without originalformat, about
    half the videos (at least one) with datetaken '0000-00-00 00:00:00'."""
    rng = random.Random('quirks:%s' % seed)
    photos = [p for p in account.photos.values() if not p.is_video]
    videos = [p for p in account.photos.values() if p.is_video]
    if photos:
        for photo in rng.sample(photos, max(1, round(len(photos) / 8))):
            photo.no_original = True
        rest = [p for p in photos if not p.no_original]
        odd = [p for p in rest if p.originalformat != 'jpg']
        chosen = [rng.choice(odd)] if odd else []
        others = [p for p in rest if p not in chosen]
        chosen += rng.sample(others, min(len(others), max(0, round(len(photos) / 8) - len(chosen))))
        for photo in chosen or rest[:1]:
            photo.no_originalformat = True
    if videos:
        for video in rng.sample(videos, max(1, round(len(videos) / 2))):
            video.zero_datetaken = True
            video.datetakenunknown = 0


def datetaken_of(photo):
    return ZERO_DATETAKEN if photo.zero_datetaken else photo.datetaken


def _generate_albums(rng, account, n_albums, hostile):
    if not n_albums or not account.photos:
        return
    ids = list(account.photos)               # chronological (oldest first)
    lists = [[] for _ in range(n_albums)]
    for i, pid in enumerate(ids):
        if i == len(ids) - 1:                # the newest photo: in no album
            continue
        if i == len(ids) - 2 or rng.random() < 0.7:
            a = rng.randrange(n_albums)
            lists[a].append(pid)
            if i == len(ids) - 2 or rng.random() < 0.25:
                b = (a + 1 + rng.randrange(n_albums - 1)) % n_albums if n_albums > 1 else a
                if b != a:
                    lists[b].append(pid)
    for k, photo_ids in enumerate(lists):
        if not photo_ids:
            photo_ids.append(ids[rng.randrange(len(ids))])
        if k % 2 == 0:
            rng.shuffle(photo_ids)           # a custom (non-chronological) order
        title = HOSTILE_TITLES[k % len(HOSTILE_TITLES)] if hostile else 'Album %d' % (k + 1)
        created = rng.randint(START_EPOCH, END_EPOCH - 86400)
        album = Album(_album_id(rng), title,
                      '' if k % 3 else 'Album description – %d' % (k + 1),
                      rng.choice(photo_ids) if k % 4 == 1 else photo_ids[0], photo_ids,
                      created, created + rng.randrange(86400 * 30), rng.randrange(500),
                      rng.randrange(3))
        account.albums[album.id] = album


def _collection_id(rng, account):
    return '%s-72157%012d' % (account.user_digits, rng.randrange(10 ** 12))


def _generate_collections(rng, account, count, title_iter):
    """`count` top-level collections: the first holds nested sub-collections,
    the last (when count >= 2) is empty, about 2/3 of the albums are spread
    over the leaves."""
    if count <= 0:
        return []
    serial = iter(range(1, 10 ** 6))

    def new(desc=''):
        title = next(title_iter) if title_iter else 'Collection %d' % next(serial)
        return Collection(_collection_id(rng, account), title, desc)

    top = [new('Top-level collection') for _ in range(count)]
    sub_a, sub_b = new('Nested'), new('Nested')
    subsub = new('Nested twice')
    sub_a.children = [subsub]
    top[0].children = [sub_a, sub_b]
    leaves = [subsub, sub_b] + top[1:count - 1 if count >= 2 else count]
    album_ids = list(account.albums)
    for j, aid in enumerate(album_ids[:max(1, len(album_ids) * 2 // 3)] if album_ids else []):
        leaves[j % len(leaves)].album_ids.append(aid)
    return top


def _generate_favorites(rng, account):
    t = END_EPOCH - 50 * 86400
    for k, other in enumerate(account.others[:4]):
        pid = str(3_000_000_000 + rng.randrange(10 ** 9))
        photo = new_photo(rng, pid, 'photo', 'jpg', '', t - k * 86400, t - k * 86400,
                          'Favourite %d' % (k + 1))
        photo.owner, photo.ownername = other.nsid, other.username
        photo.ispublic, photo.isfriend, photo.isfamily = 1, 0, 0
        account.favorites.append((photo, t + k * 3600))


# What others add around the photos: notes, people, galleries, groups, album comments.  A
# random stream of its own, so the photos, albums and favourites above stay as they were.
NOTE_TEXTS = ['Look at this!', 'My <b>granny</b> & me', 'Café – 夏', 'Line one\nline two',
              'A "quoted" word', 'x < y > z', 'Here 👋']
OTHER_REALNAMES = {'pellethepoet': 'Pelle Poet', 'Janko Marohnić': 'Janko Marohnić',
                   'brampitoyo': 'Bram Pitoyo', 'jinxlib': '', '夏子': '山田 夏子'}
GROUP_NAMES = [('Mountains & Lakes', 'mountains_lakes'), ('Ærø – 夏 photographers', ''),
               ('Black and White <bw>', 'blackandwhite'), ('Street (invite only)', '')]
MANY_NOTES = 32             # one photo has this many notes (as photo 2959326615 has)
NOTE_FRAME = 500            # note and person boxes are in the 'Medium' (500 px) frame


def note_frame(photo):
    """(width, height) of the frame notes and people boxes are drawn in: the photo as its
    500-pixel size shows it (turned by its rotation), or as it is when smaller."""
    return size_dims(photo, NOTE_FRAME, False) or turned_dims(photo)


def _user_record(account, who):
    """(nsid, username, realname, iconserver, iconfarm) of the owner (who=None) or another."""
    if who is None:
        return (account.nsid, account.username, account.realname, account.iconserver,
                account.iconfarm)
    return (who.nsid, who.username, OTHER_REALNAMES.get(who.username, ''), who.iconserver,
            who.iconfarm)


def _random_box(rng, photo):
    fw, fh = note_frame(photo)
    w, h = rng.randint(20, max(20, fw // 3)), rng.randint(20, max(20, fh // 3))
    return rng.randrange(max(1, fw - w)), rng.randrange(max(1, fh - h)), w, h


def new_note(rng, account, photo, author=None, text=None, box=None):
    """A Note by the owner (author None) or another user (an OtherUser)."""
    nsid, username, realname, _server, _farm = _user_record(account, author)
    x, y, w, h = box or _random_box(rng, photo)
    return Note('72157%012d' % rng.randrange(10 ** 12), nsid, username, realname, x, y, w, h,
                rng.choice(NOTE_TEXTS) if text is None else text)


def new_person(account, who, added_by, box=None):
    nsid, username, realname, server, farm = _user_record(account, who)
    if who is None:
        alias = account.path_alias or ''
    else:       # another user's URL name: their username in plain letters and digits
        alias = re.sub(r'[^a-z0-9]', '', username.lower())
    return PersonTag(nsid, username, realname, server, farm, alias, added_by, box)


def _other_photo(rng, account, other, when, media='photo'):
    pid = str(2_000_000_000 + rng.randrange(10 ** 9))
    photo = new_photo(rng, pid, media, 'jpg', 'mp4' if media == 'video' else '', when, when,
                      '%s by %s' % ('Video' if media == 'video' else 'Photo', other.username))
    photo.owner, photo.ownername = other.nsid, other.username
    photo.ispublic, photo.isfriend, photo.isfamily = 1, 0, 0
    account.others_photos[pid] = photo
    return photo


def _generate_social(account, seed):
    """Notes, people, two more favourites, six photos of other users (in galleries and pools),
    three galleries, four groups and the albums' comments."""
    rng = random.Random('social:%s' % seed)
    own = [p for p in account.photos.values() if not p.is_video]
    for fav, _when in account.favorites:
        account.others_photos[fav.id] = fav
    _generate_notes_and_people(rng, account, own)
    _generate_more_favorites(rng, account)
    others = account.others
    strangers = [_other_photo(rng, account, others[k % len(others)], END_EPOCH - (40 - k) * 86400)
                 for k in range(6)] if others else []
    _generate_galleries(rng, account, strangers)
    _generate_groups(rng, account, strangers)
    for album in account.albums.values():
        album.comment_list = [_new_album_comment(rng, account, album, rng.randint(
            album.date_create, END_EPOCH)) for _ in range(album.comments)]
        album.comment_list.sort(key=lambda c: c.datecreate)


def _generate_notes_and_people(rng, account, own):
    if not own or not account.others:
        return
    for photo in own:
        if rng.random() < 0.15:
            photo.notes = [new_note(rng, account, photo, rng.choice([None] + account.others))
                           for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.12:
            photo.people = [new_person(account, who, account.nsid,
                                       _random_box(rng, photo) if rng.random() < 0.5 else None)
                            for who in rng.sample([None] + account.others, rng.randint(1, 3))]
    crowded = own[len(own) // 2]
    crowded.notes = [new_note(rng, account, crowded, rng.choice([None] + account.others))
                     for _ in range(MANY_NOTES)]
    # surely one photo with boxed people (one of them with a hidden real name) and one without
    boxed, plain = own[0], own[-1]
    hidden = next(o for o in account.others if not OTHER_REALNAMES.get(o.username, 'x'))
    boxed.people = [new_person(account, None, account.nsid, _random_box(rng, boxed)),
                    new_person(account, hidden, hidden.nsid, _random_box(rng, boxed))]
    plain.people = [new_person(account, o, account.nsid) for o in account.others[:2]]


def _generate_more_favorites(rng, account):
    """A favourite video, and a photo whose owner lets no one download its original."""
    if len(account.others) < 5:
        return
    t = END_EPOCH - 30 * 86400
    video = _other_photo(rng, account, account.others[4], t, 'video')
    locked = _other_photo(rng, account, account.others[1], t + 3600)
    locked.no_original, locked.license = True, 4
    account.favorites += [(video, t + 7200), (locked, t + 10800)]


def _gallery_ids(rng, account):
    gallery_id = '72157%012d' % rng.randrange(10 ** 12)
    return '%s-%s' % (account.user_digits, gallery_id), gallery_id


def _generate_galleries(rng, account, strangers):
    own = list(account.photos)
    if not own or not strangers:
        return
    specs = [('Light on water', 'Mine and others\u2019', own[:3] + [p.id for p in strangers[:3]]),
             ('Friends\u2019 best', '', [p.id for p in strangers[2:]]),
             ('A single one', 'Only <b>one</b> photo', own[-1:])]
    t = END_EPOCH - 20 * 86400
    for k, (title, desc, ids) in enumerate(specs):
        gid, short = _gallery_ids(rng, account)
        items = [[pid, rng.choice(['', '', 'Lovely light', 'Ünïcödé – 夏'])] for pid in ids]
        account.galleries[gid] = Gallery(gid, short, title, desc, items, ids[0],
                                         t - k * 86400, t - k * 86400 + rng.randrange(86400),
                                         rng.randrange(300))
    account.galleries = dict(sorted(account.galleries.items(),
                                    key=lambda kv: kv[1].date_create, reverse=True))


def _generate_groups(rng, account, strangers):
    own = list(account.photos)
    for k, (name, slug) in enumerate(GROUP_NAMES):
        nsid = '%d@N2%d' % (rng.randint(100_000, 99_999_999), rng.randint(0, 5))
        group = Group(nsid, name, slug, str(rng.randint(1, 65535)), rng.randint(1, 66),
                      rng.randint(10, 200_000), admin=int(k == 1),
                      invitation_only=int('invite' in name))
        if k < len(GROUP_NAMES) - 1:        # the last group: joined, never posted to
            members = [pid for pid in own if rng.random() < 0.25] + [
                p.id for p in strangers if rng.random() < 0.5]
            when = END_EPOCH - 10 * 86400
            group.pool = sorted(([pid, when - rng.randrange(300 * 86400)] for pid in members),
                                key=lambda e: (e[1], e[0]), reverse=True)
        account.groups[nsid] = group


def _new_album_comment(rng, account, album, when):
    other = rng.choice(account.others)
    cid = '%s-%s-72157%012d' % (account.user_digits, album.id, rng.randrange(10 ** 12))
    text = rng.choice(['Great album!', 'Wow 😍', 'So <i>many</i> memories', 'Tolle Bilder'])
    return Comment(cid, other.nsid, other.username, when, text)


# ---------------------------------------------------------------------------
# Content generation: deterministic, valid image / video bytes
# ---------------------------------------------------------------------------

# A 16x16 baseline JPEG (made once with Pillow): SOI, APP0 JFIF, DQT, SOF0, DHT, SOS ... EOI.
JPEG_TEMPLATE = bytes.fromhex(
    'ffd8ffe000104a46494600010100000100010000ffdb0043000d090a0b0a080d0b0a0b0e0e0d0f1320151312'
    '1213271c1e17202e2931302e292d2c333a4a3e333646372c2d405741464c4e525352323e5a615a50604a5152'
    '4fffdb0043010e0e0e131113261515264f352d354f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f'
    '4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4fffc000110800100010030122000211010311'
    '01ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303'
    '020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024'
    '33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566'
    '6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7'
    'b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400'
    '1f0100030101010101010101010000000000000102030405060708090a0bffc400b511000201020404030407'
    '05040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a'
    '162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869'
    '6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9'
    'bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100'
    '02110311003f00e62d74ee9f2d6bdae9dd3e5ad7b5d3ba7cb5b16ba774f96aabe3bcc32acc76d4ffd9')
JPEG_APP0_END = 20          # SOI (2) + APP0 JFIF segment (18)
# A 4x4 two-colour GIF89a; the comment extension goes after the global colour table.
GIF_TEMPLATE = bytes.fromhex(
    '47494638396104000400810000ff00000000ff0000000000002c000000000400040000080c000104103870a0'
    '4082070302003b')
GIF_GCT_END = 25
_ALNUM = b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-'
_PAD_TABLE = bytes(_ALNUM[i % 64] for i in range(256))


def _content_rng(seed, photo_id, version, variant):
    return random.Random('fakeflickr:%s:%s:%s:%s' % (seed, photo_id, version, variant))


def _padding(rng, n):
    """n deterministic printable bytes."""
    return rng.randbytes(max(0, n)).translate(_PAD_TABLE)


def _target_size(rng, file_size):
    return max(64, int(file_size * (0.7 + 0.6 * rng.random())))


def make_jpeg(rng, target, dims=None):
    """The template JPEG with COM segments of padding after SOI+APP0.  `dims` (width,
    height) go into its frame header, as a real original's would: a client compares them
    with the listing's o_width / o_height (the pixels stay the template's 16x16 block)."""
    pad = max(0, target - len(JPEG_TEMPLATE))
    segments = []
    while pad > 4:
        n = min(65533, pad - 4)
        segments.append(b'\xff\xfe' + (n + 2).to_bytes(2, 'big') + _padding(rng, n))
        pad -= n + 4
    template = JPEG_TEMPLATE
    if dims:
        sof = template.index(b'\xff\xc0') + 5   # marker, length, precision: then height, width
        template = template[:sof] + dims[1].to_bytes(2, 'big') + dims[0].to_bytes(2, 'big') + template[sof + 4:]
    return template[:JPEG_APP0_END] + b''.join(segments) + template[JPEG_APP0_END:]


def _png_chunk(kind, data):
    return (len(data).to_bytes(4, 'big') + kind + data
            + (zlib.crc32(kind + data) & 0xffffffff).to_bytes(4, 'big'))


def make_png(rng, target, dims=None):
    """A PNG of one per-photo colour (16x16, or `dims`: 1-bit palette rows compress to
    almost nothing), padded with a private ancillary chunk."""
    color = bytes(rng.randrange(256) for _ in range(3))
    w, h = dims or (16, 16)
    raw = (b'\x00' + bytes((w + 7) // 8)) * h
    ihdr = w.to_bytes(4, 'big') + h.to_bytes(4, 'big') + bytes([1, 3, 0, 0, 0])
    head = b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', ihdr) + _png_chunk(b'PLTE', color)
    tail = _png_chunk(b'IDAT', zlib.compress(raw)) + _png_chunk(b'IEND', b'')
    pad = max(0, target - len(head) - len(tail) - 12)
    return head + _png_chunk(b'flPd', _padding(rng, pad)) + tail


def make_gif(rng, target, dims=None):
    """The template GIF with a comment extension (255-byte sub-blocks) of padding; `dims`
    set its logical screen (the 4x4 image sits in its corner, as GIF allows)."""
    pad = _padding(rng, max(0, (target - len(GIF_TEMPLATE) - 3) * 255 // 256))
    blocks = b''.join(bytes([len(pad[i:i + 255])]) + pad[i:i + 255] for i in range(0, len(pad), 255))
    template = GIF_TEMPLATE
    if dims:
        template = template[:6] + dims[0].to_bytes(2, 'little') + dims[1].to_bytes(2, 'little') + template[10:]
    return (template[:GIF_GCT_END] + b'!\xfe' + blocks + b'\x00'
            + template[GIF_GCT_END:])


def make_video(rng, target, ext):
    """An ISO-BMFF looking file: ftyp box, a free box of padding, a small mdat."""
    if ext == 'mov':
        ftyp = b'qt  ' + (0x20050300).to_bytes(4, 'big') + b'qt  '
    else:
        ftyp = b'isom' + (0x200).to_bytes(4, 'big') + b'isomiso2avc1mp41'
    ftyp = (8 + len(ftyp)).to_bytes(4, 'big') + b'ftyp' + ftyp
    mdat_data = rng.randbytes(64)
    mdat = (8 + len(mdat_data)).to_bytes(4, 'big') + b'mdat' + mdat_data
    pad = max(0, target - len(ftyp) - len(mdat) - 8)
    free = (8 + pad).to_bytes(4, 'big') + b'free' + _padding(rng, pad)
    return ftyp + free + mdat


def original_bytes(seed, photo, file_size):
    """The still original (`_o.<originalformat>`; the still frame for videos)."""
    rng = _content_rng(seed, photo.id, photo.version, 'o')
    target = _target_size(rng, file_size)
    dims = (photo.width, photo.height)
    if photo.is_video:
        return make_jpeg(rng, max(600, target // 10), dims)
    return {'png': make_png, 'gif': make_gif}.get(photo.originalformat, make_jpeg)(rng, target, dims)


def derived_bytes(seed, photo, suffix):
    """A small JPEG for a derived size (`_q`, `_z`, ...), its header carrying the size's
    dimensions as getSizes gives them."""
    rng = _content_rng(seed, photo.id, photo.version, 'size-' + (suffix or 'm'))
    size = next((s for s in SIZES if s[1].lstrip('_') == (suffix or '')), None)
    dims = size_dims(photo, size[4], size[5]) if size else None
    return make_jpeg(rng, 700 + rng.randrange(600), dims)


# Relative sizes of a video's encodes (the Site / Mobile MP4 sizes as before renditions existed).
VIDEO_SIZE_FACTORS = {'orig': 2, 'site': 1, 'mobile': 1, 'hd': 1.5, '1080p': 1.8, '720p': 1.4,
                      '360p': 0.8, '288p': 0.6, '700': 0.9, 'iphone_wifi': 0.7}


def video_bytes(seed, photo, variant, file_size):
    """'orig' is the uploaded file (mp4 or mov); the other variants (VIDEO_RENDITIONS) are
    smaller mp4 encodes, each with its own bytes."""
    rng = _content_rng(seed, photo.id, photo.version, 'video-' + variant)
    target = int(_target_size(rng, file_size) * VIDEO_SIZE_FACTORS[variant])
    return make_video(rng, target, photo.video_ext if variant == 'orig' else 'mp4')


def placeholder_gif():
    """Flickr's /images/photo_unavailable.gif look-alike: a grey GIF89a whose header says
    500x375 (a 4x4 image on a 500x375 logical screen: valid, and smaller than any original)."""
    return (b'GIF89a' + (500).to_bytes(2, 'little') + (375).to_bytes(2, 'little')
            + b'\x81\x00\x00' + bytes.fromhex('999999' 'cccccc' '999999' '999999')
            + GIF_TEMPLATE[GIF_GCT_END:])


# ---------------------------------------------------------------------------
# OAuth 1.0a (HMAC-SHA1, verified)
# ---------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


PERM_LEVELS = {'none': 0, 'read': 1, 'write': 2, 'delete': 3}
TIMESTAMP_WINDOW = 600


@dataclass
class SignedRequest:
    """What signature checks need to know about an HTTP request."""
    verb: str
    host: str
    path: str              # as requested (not unquoted)
    query_pairs: list
    body_pairs: list
    header_pairs: list     # oauth params from the Authorization header

    @property
    def all_pairs(self):
        return self.header_pairs + self.query_pairs + self.body_pairs

    def oauth(self):
        return {k: v for k, v in self.all_pairs if k.startswith('oauth_')}

    def params(self):
        """Non-header parameters as a dict (last one wins)."""
        return dict(self.query_pairs + self.body_pairs)


class OAuthStore:
    """Consumers, request/access tokens, seen nonces; thread-safe."""

    def __init__(self, consumers):
        self.consumers = dict(consumers)
        self.request_tokens = {}
        self.access_tokens = {}
        self.nonces = {}
        self.nonce_order = deque()   # (key, time seen), oldest first: expiry in amortised O(1)
        self.lock = threading.Lock()

    @staticmethod
    def new_token():
        return '72157%012d-%s' % (secrets.randbelow(10 ** 12), secrets.token_hex(8))

    def issue_access(self, consumer, perms, nsid):
        token, secret = self.new_token(), secrets.token_hex(8)
        with self.lock:
            self.access_tokens[token] = {'secret': secret, 'consumer': consumer,
                                         'perms': perms, 'nsid': nsid}
        return token, secret

    def issue_request(self, consumer, callback):
        token, secret = self.new_token(), secrets.token_hex(8)
        with self.lock:
            self.request_tokens[token] = {'secret': secret, 'consumer': consumer,
                                          'callback': callback, 'verifier': None, 'perms': None}
        return token, secret

    def check_signature(self, req, consumer_secret, token_secret):
        """(ok, signature base string)."""
        oauth = req.oauth()
        pairs = [(k, v) for k, v in req.all_pairs if k != 'oauth_signature']
        uri = oauth_signature.base_string_uri('http://%s%s' % (req.host, req.path))
        sbs = oauth_signature.signature_base_string(
            req.verb, uri, oauth_signature.normalize_parameters(pairs))
        if oauth.get('oauth_signature_method', 'HMAC-SHA1') != 'HMAC-SHA1':
            return False, sbs
        key = '%s&%s' % (oauth_utils.escape(consumer_secret or ''), oauth_utils.escape(token_secret or ''))
        expected = base64.b64encode(hmac.new(key.encode(), sbs.encode(), hashlib.sha1).digest()).decode()
        return hmac.compare_digest(expected, oauth.get('oauth_signature', '')), sbs

    def timestamp_ok(self, oauth):
        try:
            return abs(time.time() - int(oauth.get('oauth_timestamp', ''))) <= TIMESTAMP_WINDOW
        except ValueError:
            return False

    def use_nonce(self, oauth):
        """False when (consumer, nonce, timestamp) was seen before."""
        key = (oauth.get('oauth_consumer_key'), oauth.get('oauth_nonce'), oauth.get('oauth_timestamp'))
        now = time.time()
        with self.lock:
            while self.nonce_order and now - self.nonce_order[0][1] >= 2 * TIMESTAMP_WINDOW:
                old, seen = self.nonce_order.popleft()
                if self.nonces.get(old) == seen:
                    del self.nonces[old]
            if key in self.nonces:
                return False
            self.nonces[key] = now
            self.nonce_order.append((key, now))
            return True

    def authenticate_rest(self, req, params):
        """The access-token record of a REST call, or None for an unsigned call.
        Raises ApiError 100/96/97/98."""
        oauth = req.oauth()
        consumer = oauth.get('oauth_consumer_key') or params.get('api_key')
        if not consumer or consumer not in self.consumers:
            raise ApiError(100, 'Invalid API Key (Key has invalid format)')
        if not oauth:
            return None
        if 'oauth_signature' not in oauth:
            raise ApiError(97, 'Missing signature')
        token = oauth.get('oauth_token')
        record = None
        if token:
            with self.lock:
                record = self.access_tokens.get(token)
            if record is None or record['consumer'] != consumer:
                raise ApiError(98, 'Invalid auth token')
        ok, _ = self.check_signature(req, self.consumers[consumer], record and record['secret'])
        if not ok or not self.timestamp_ok(oauth) or not self.use_nonce(oauth):
            raise ApiError(96, 'Invalid signature')
        return dict(record, token=token) if record else None


# ---------------------------------------------------------------------------
# REST methods
# ---------------------------------------------------------------------------

API_METHODS = {}
NO_AUTH_METHODS = {'flickr.test.echo'}


def api(name):
    def register(func):
        API_METHODS[name] = func
        return func
    return register


class Ctx:
    """Per-call context handed to the method functions."""

    def __init__(self, fake, params, token, short=False):
        self.fake, self.params, self.token = fake, params, token
        self.short = short          # a scheduled 'short' fault hit this request
        self.account = fake.account
        self.base = fake.base_url

    def int_param(self, name, default):
        try:
            return int(self.params.get(name, default))
        except (TypeError, ValueError):
            return default

    def extras(self, name='extras'):
        return {e.strip().lower() for e in self.params.get(name, '').split(',') if e.strip()}

    def check_user(self, required=False):
        uid = self.params.get('user_id')
        if uid in (None, '') and not required:
            return
        if uid not in ('me', self.account.nsid):
            raise ApiError(2, 'Unknown user')

    def photo(self):
        photo = self.account.find_photo(self.params.get('photo_id', ''))
        if photo is None:
            raise ApiError(1, 'Photo not found')
        return photo

    def album(self):
        album = self.account.albums.get(self.params.get('photoset_id', ''))
        if album is None:
            raise ApiError(1, 'Photoset not found')
        return album


def paginate(ctx, items, default=100, maximum=500):
    """(chunk, page, pages, per_page, total).  A page past the end answers
    with the requested page number and an empty list."""
    per_page = min(max(ctx.int_param('per_page', default), 1), maximum)
    page = max(ctx.int_param('page', 1), 1)
    total = len(items)
    pages = math.ceil(total / per_page)
    return items[(page - 1) * per_page: page * per_page], page, pages, per_page, total


# (extras key, URL suffix, sizes label, sizes path, longest side, square, height type, width type)
# The int/str mix of heights and widths follows the recorded responses.
SIZES = [
    ('sq', '_s', 'Square', 'sq', 75, True, int, int),
    ('q', '_q', 'Large Square', 'q', 150, True, str, str),
    ('t', '_t', 'Thumbnail', 't', 100, False, str, str),
    ('s', '_m', 'Small', 's', 240, False, str, str),
    ('n', '_n', 'Small 320', 'n', 320, False, int, str),
    ('w', '_w', 'Small 400', 'w', 400, False, str, str),
    ('m', '', 'Medium', 'm', 500, False, str, str),
    ('z', '_z', 'Medium 640', 'z', 640, False, str, str),
    ('c', '_c', 'Medium 800', 'c', 800, False, int, str),
    ('l', '_b', 'Large', 'l', 1024, False, str, str),
    ('h', '_h', 'Large 1600', 'h', 1600, False, int, str),
    ('k', '_k', 'Large 2048', 'k', 2048, False, int, str),
]
DERIVED_SUFFIXES = {s[1].lstrip('_') for s in SIZES}
FREE_REFUSED_SUFFIXES = {s[1].lstrip('_') for s in SIZES if s[4] > 1024}     # 'h', 'k'



def turned_dims(photo):
    """(width, height) of the photo as its derived sizes show it: turned by its rotation.
    Flickr's getInfo documentation: rotation is the clockwise rotation, in degrees, by which
    the smaller sizes have been turned from the original, which is itself left as uploaded
    (so it also tells how far to turn the original back)."""
    if photo.rotation in (90, 270):
        return photo.height, photo.width
    return photo.width, photo.height


def size_dims(photo, longest, square):
    """(width, height) of a derived size (turned by the photo's rotation), or None when the
    original is smaller."""
    if square:
        return (longest, longest)
    width, height = turned_dims(photo)
    big = max(width, height)
    if big < longest:
        return None
    scale = longest / big
    return (max(1, round(width * scale)), max(1, round(height * scale)))


# Flickr's blog, 2025-04-15, "Service Update: Original & Large Size Download Limitations on
# Free Accounts": from 15 May 2025 the downloads of original and large sizes (larger than
# 1024 px) of photos owned by free accounts are restricted, "both your own content and ...
# content shared by other free members" (gallery-dl #7381; #8591: only the 1024 px size comes
# through the API).  The fake applies it to the account's own photos (favourites belong to
# other users, whose plan the fake does not model) and never to videos.
FREE_LIMIT = 1024


def free_limited(fake, photo):
    """True when the free-account limit hides this photo's sizes past 1024 px and its Original."""
    return (fake.faults.free_account and not photo.is_video and not photo.owner
            and max(photo.width, photo.height) > FREE_LIMIT)


def offered_sizes(fake, photo):
    """The SIZES rows whose URL the API offers for this photo (as in getSizes and url_*)."""
    limited = free_limited(fake, photo)
    return [s for s in SIZES if size_dims(photo, s[4], s[5]) and not (limited and s[4] > FREE_LIMIT)]


def original_offered(fake, photo):
    return not photo.no_original and not free_limited(fake, photo)


def largest_size(photo):
    """(label, URL suffix) of a photo's largest derived size (by longest side)."""
    best = max((s for s in SIZES if size_dims(photo, s[4], s[5])), key=lambda s: s[4])
    return best[2], best[1].lstrip('_')


def static_url(base, photo, suffix):
    if suffix == '_o':
        return '%s/static/%s/%s_%s_o.%s' % (base, photo.server, photo.id, photo.originalsecret,
                                           photo.originalformat)
    return '%s/static/%s/%s_%s%s.jpg' % (base, photo.server, photo.id, photo.secret, suffix)


def url_name(account, photo):
    """The user part of a photo's flickr.com URLs: the owner's path alias when they chose one,
    else their NSID (the samples: '78733179@N04' with pathalias null, 'brampitoyo' with
    pathalias "brampitoyo").  Favourites belong to others, whose alias the fake leaves unset."""
    if photo.owner:
        return photo.owner
    return account.path_alias or account.nsid


def play_url(base, account, photo, variant):
    """A video's play address as getSizes lists it, relative to the fake's base:
    /photos/<alias or nsid>/<id>/play/<variant>/<secret>/, the originalsecret for 'orig'."""
    secret = photo.originalsecret if variant == 'orig' else photo.secret
    return '%s/photos/%s/%s/play/%s/%s/' % (base, url_name(account, photo), photo.id,
                                            variant, secret)


def _even(x):
    return max(2, int(round(x / 2)) * 2)


# A video's MP4 renditions in getSizes order: (label, play URL variant, dims).  `dims(w, h)` is
# (width, height), or None where Flickr leaves width and height empty (the stream labels, as
# '700' and 'iphone_wifi' in the 2024 sample); `fits(h)` says whether a video of height h has
# it.  Heights among the renditions with dims are distinct for every video size we generate, so
# "the best rendition = the greatest height" is unambiguous.  'Video Player' (the Flash .swf)
# and 'Video Original' are listed by getSizes but are not renditions.
VIDEO_RENDITIONS = [
    ('Site MP4', 'site', lambda w, h: (640, _even(640 * h / w)), lambda h: True),
    ('Mobile MP4', 'mobile', lambda w, h: (480, _even(480 * h / w)), lambda h: True),
    ('HD MP4', 'hd', lambda w, h: (_even(720 * w / h), 720), lambda h: h >= 720),
    ('1080p', '1080p', None, lambda h: h >= 1080),
    ('720p', '720p', None, lambda h: h >= 720),
    ('360p', '360p', None, lambda h: h >= 360),
    ('288p', '288p', None, lambda h: True),
    ('700', '700', None, lambda h: True),
    ('iphone_wifi', 'iphone_wifi', None, lambda h: True),
]
VIDEO_VARIANTS = {variant for _label, variant, _dims, _fits in VIDEO_RENDITIONS} | {'orig'}


def renditions_of(photo):
    """[(label, variant, width or None, height or None)] of a video's MP4 renditions."""
    out = []
    for label, variant, dims, fits in VIDEO_RENDITIONS:
        if fits(photo.height):
            w, h = dims(photo.width, photo.height) if dims else (None, None)
            out.append((label, variant, w, h))
    return out


# The height a stream label stands for when getSizes leaves width and height empty, and the
# order that breaks ties (best first): what a careful client (gallery-dl's table) assumes.
RENDITION_NOMINAL_HEIGHT = {'1080p': 1080, 'HD MP4': 720, '720p': 720, 'Site MP4': 360, '360p': 360,
                            '288p': 288, '700': 280, 'Mobile MP4': 270, 'iphone_wifi': 240}


def best_rendition(photo):
    """(label, variant) of the tallest rendition: its height where getSizes gives one, else
    the height its label stands for; ties go to the label earlier in the table."""
    order = list(RENDITION_NOMINAL_HEIGHT)

    def rank(r):
        label, _variant, _w, h = r
        return (h or RENDITION_NOMINAL_HEIGHT[label], -order.index(label))
    label, variant, _w, _h = max(renditions_of(photo), key=rank)
    return label, variant


def normalize_tag(raw):
    if ':' in raw and '=' in raw:
        return raw.lower()
    return re.sub(r'[^\w]', '', raw.lower())


def _page_user(ctx, photo):
    return url_name(ctx.account, photo)


def _owner_of(ctx, photo):
    return photo.owner or ctx.account.nsid


def _ownername_of(ctx, photo):
    return photo.ownername or ctx.account.username


def photo_extras(ctx, photo, extras):
    """The extras fields of one photo record, in the samples' order and types."""
    acct, d = ctx.account, {}
    if 'description' in extras:
        d['description'] = {'_content': photo.description}
    if 'license' in extras:
        d['license'] = str(photo.license)
    if 'date_upload' in extras:
        d['dateupload'] = str(photo.dateupload)
    if 'date_taken' in extras:
        d.update(datetaken=datetaken_of(photo), datetakengranularity=str(photo.datetakengranularity),
                 datetakenunknown=str(photo.datetakenunknown))
    if 'owner_name' in extras:
        d['ownername'] = _ownername_of(ctx, photo)
    if 'icon_server' in extras:
        owner = next((o for o in acct.others if o.nsid == photo.owner), acct)
        d.update(iconserver=owner.iconserver, iconfarm=owner.iconfarm)
    if 'original_format' in extras and not photo.no_original:
        d['originalsecret'] = photo.originalsecret
        if not photo.no_originalformat:
            d['originalformat'] = photo.originalformat
        if photo.listed_originalformat is not None:
            d['originalformat'] = photo.listed_originalformat
    if 'last_update' in extras:
        d['lastupdate'] = str(photo.lastupdate)
    if 'geo' in extras:
        d.update(_geo_fields(photo))
    if 'tags' in extras:
        d['tags'] = ' '.join(normalize_tag(t) for t in photo.tags + photo.machine_tags)
    if 'machine_tags' in extras:
        d['machine_tags'] = ' '.join(photo.machine_tags)
    if 'o_dims' in extras and not photo.no_original:
        d.update(o_width=str(photo.width), o_height=str(photo.height))
    if 'views' in extras:
        d['views'] = str(photo.views)
    if 'count_views' in extras:
        d['count_views'] = str(photo.views)
    if 'media' in extras:
        d.update(media=photo.media, media_status='ready')
    if 'path_alias' in extras:
        d['pathalias'] = None if photo.owner else (ctx.fake.faults.listing_path_alias or ctx.account.path_alias)
    for key, suffix, _label, _path, longest, square, htype, wtype in offered_sizes(ctx.fake, photo):
        if 'url_' + key in extras:
            dims = size_dims(photo, longest, square)
            d['url_' + key] = static_url(ctx.base, photo, suffix)
            d['height_' + key], d['width_' + key] = htype(dims[1]), wtype(dims[0])
    if 'url_o' in extras and original_offered(ctx.fake, photo):
        d.update(url_o=static_url(ctx.base, photo, '_o'), height_o=str(photo.height),
                 width_o=str(photo.width))
    if 'count_comments' in extras:
        d['count_comments'] = str(len(photo.comments))
    if 'count_faves' in extras:
        d['count_faves'] = str(photo.faves)
    return d


def _place(photo):
    """The PLACES row whose names getInfo gives: the one nearest the photo's coordinates
    (generated within 0.05 degrees of it), so names and the pin on a map agree."""
    return min(PLACES, key=lambda pl: (pl[0] - photo.latitude) ** 2 + (pl[1] - photo.longitude) ** 2)


def _place_ids(photo, level):
    h = hashlib.sha1(('%s:%s' % (_place(photo)[2], level)).encode()).hexdigest()
    return h[:15], str(int(h[15:22], 16) % 30_000_000)


def _geo_fields(photo):
    if not photo.geotagged:
        return {'latitude': 0, 'longitude': 0, 'accuracy': 0, 'context': 0}
    place_id, woeid = _place_ids(photo, 'locality')
    return {'latitude': photo.latitude, 'longitude': photo.longitude, 'accuracy': '16',
            'context': 0, 'place_id': place_id, 'woeid': woeid, 'geo_is_family': 0,
            'geo_is_friend': 0, 'geo_is_contact': 0, 'geo_is_public': 1}


def photo_record(ctx, photo, extras, album=None):
    """A photo in a list (getPhotos & co.; with `album`: photosets.getPhotos)."""
    d = {'id': photo.id if photo.listed_id is None else photo.listed_id}
    if album is None:
        d['owner'] = _owner_of(ctx, photo)
    d.update(secret=photo.secret, server=photo.server, farm=photo.farm, title=photo.title)
    if album is not None:
        d['isprimary'] = '1' if album.primary == photo.id else '0'
    d.update(ispublic=photo.ispublic, isfriend=photo.isfriend, isfamily=photo.isfamily)
    d.update(photo_extras(ctx, photo, extras))
    return d


def short_page(ctx, chunk, page, pages):
    """Flickr's short pages (markdoliner/flickrmirrorer#21): a page that is not the last may
    come back with items missing (1..half of them, anywhere), its page counts still right.
    A scheduled 'short' that hits the last page leaves it whole (and is used up)."""
    faults = ctx.fake.faults
    if page >= pages or not chunk or not (ctx.short or faults.roll(faults.short_page_rate)):
        return chunk
    ctx.fake._count_fault('short')
    drops = faults.short_page_drops(len(chunk))
    return [item for i, item in enumerate(chunk) if i not in drops]


def photos_page(ctx, ids, extras=None, default=100, maximum=500, shortable=False):
    chunk, page, pages, per_page, total = paginate(ctx, ids, default, maximum)
    if shortable:
        chunk = short_page(ctx, chunk, page, pages)
    extras = ctx.extras() if extras is None else extras
    photos = ctx.account.photos
    return {'page': page, 'pages': pages, 'perpage': per_page, 'total': str(total),
            'photo': [photo_record(ctx, photos[pid], extras) for pid in chunk]}


def _epoch_param(value):
    """Unix timestamp or MySQL datetime -> int, None if absent/invalid."""
    if value in (None, ''):
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return int(time.mktime(time.strptime(value[:19], '%Y-%m-%d %H:%M:%S')))
        except ValueError:
            try:
                return int(time.mktime(time.strptime(value[:10], '%Y-%m-%d')))
            except ValueError:
                return None


PRIVACY_FILTERS = {'1': (1, 0, 0), '2': (0, 1, 0), '3': (0, 0, 1), '4': (0, 1, 1), '5': (0, 0, 0)}


def _privacy_ok(photo, flt):
    want = PRIVACY_FILTERS.get(flt)
    return want is None or (photo.ispublic, photo.isfriend, photo.isfamily) == want


def _media_ok(photo, media):
    media = (media or 'all').lower()
    return media == 'all' or (media.startswith('photo') and not photo.is_video) or (
        media.startswith('video') and photo.is_video)


@api('flickr.test.echo')
def m_test_echo(ctx):
    return {k: {'_content': v} for k, v in ctx.params.items()
            if not k.startswith('oauth_') and k not in ('format', 'nojsoncallback')}


@api('flickr.test.login')
def m_test_login(ctx):
    return {'user': {'id': ctx.account.nsid, 'username': {'_content': ctx.account.username}}}


@api('flickr.auth.oauth.checkToken')
def m_check_token(ctx):
    a = ctx.account
    return {'oauth': {'token': {'_content': ctx.token['token']},
                      'perms': {'_content': ctx.token['perms']},
                      'user': {'nsid': a.nsid, 'username': a.username, 'fullname': a.realname}}}


@api('flickr.people.getInfo')
def m_people_get_info(ctx):
    ctx.check_user(required=True)
    a = ctx.account
    stream = a.photostream_order()
    first = min((p.dateupload for p in a.photos.values()), default=0)
    first_taken = min((datetaken_of(p) for p in a.photos.values()), default='')
    return {'person': {
        'id': a.nsid, 'nsid': a.nsid, 'ispro': 0 if ctx.fake.faults.free_account else 1,
        'iconserver': a.iconserver,
        'iconfarm': a.iconfarm, 'path_alias': a.path_alias, 'username': {'_content': a.username},
        'realname': {'_content': a.realname},
        'mbox_sha1sum': {'_content': hashlib.sha1(a.nsid.encode()).hexdigest()},
        'location': {'_content': a.location},
        'timezone': {'label': 'Brussels, Copenhagen, Madrid, Paris', 'offset': '+01:00'},
        'description': {'_content': 'Emulated account'},
        'photosurl': {'_content': 'https://www.flickr.com/photos/%s/' % (a.path_alias or a.nsid)},
        'profileurl': {'_content': 'https://www.flickr.com/people/%s/' % (a.path_alias or a.nsid)},
        'mobileurl': {'_content': 'https://m.flickr.com/photostream.gne?id=%s' % a.user_digits},
        'photos': {'firstdatetaken': {'_content': first_taken},
                   'firstdate': {'_content': str(first)}, 'count': {'_content': len(stream)},
                   'views': {'_content': str(sum(p.views for p in a.photos.values()))}}}}


@api('flickr.people.getPhotos')
def m_people_get_photos(ctx):
    ctx.check_user(required=True)
    p, photos = ctx.params, ctx.account.photos
    lo, hi = _epoch_param(p.get('min_upload_date')), _epoch_param(p.get('max_upload_date'))
    ids = ctx.account.photostream_order()
    if lo is not None or hi is not None or p.get('privacy_filter') or p.get('media'):
        ids = [pid for pid in ids
               if (lo is None or photos[pid].dateupload >= lo)
               and (hi is None or photos[pid].dateupload <= hi)
               and _privacy_ok(photos[pid], p.get('privacy_filter'))
               and _media_ok(photos[pid], p.get('media'))]
    return {'photos': photos_page(ctx, ids, shortable=True)}


@api('flickr.photos.getNotInSet')
def m_photos_get_not_in_set(ctx):
    return {'photos': photos_page(ctx, ctx.account.not_in_set())}


@api('flickr.photos.recentlyUpdated')
def m_photos_recently_updated(ctx):
    since = _epoch_param(ctx.params.get('min_date')) or 0
    photos = ctx.account.photos
    ids = [pid for pid in ctx.account.recently_updated_order() if photos[pid].lastupdate >= since]
    return {'photos': photos_page(ctx, ids)}


@api('flickr.photos.getInfo')
def m_photos_get_info(ctx):
    ph, a = ctx.photo(), ctx.account
    owner_name = _ownername_of(ctx, ph)
    d = {'id': ph.id, 'secret': ph.secret, 'server': ph.server, 'farm': ph.farm,
         'dateuploaded': str(ph.dateupload), 'isfavorite': 0, 'license': str(ph.license),
         'safety_level': '0', 'rotation': ph.rotation, 'originalsecret': ph.originalsecret,
         'originalformat': ph.originalformat,
         'owner': {'nsid': _owner_of(ctx, ph), 'username': owner_name,
                   'realname': a.realname if not ph.owner else '', 'location': a.location,
                   'iconserver': a.iconserver, 'iconfarm': a.iconfarm,
                   'path_alias': None if ph.owner else a.path_alias},
         'title': {'_content': ph.title}, 'description': {'_content': ph.description},
         'visibility': {'ispublic': ph.ispublic, 'isfriend': ph.isfriend, 'isfamily': ph.isfamily},
         'dates': {'posted': str(ph.dateupload), 'taken': datetaken_of(ph),
                   'takengranularity': str(ph.datetakengranularity),
                   'takenunknown': str(ph.datetakenunknown), 'lastupdate': str(ph.lastupdate)},
         'permissions': {'permcomment': 3, 'permaddmeta': 2},
         'views': str(ph.views),
         'editability': {'cancomment': 1, 'canaddmeta': 1},
         'publiceditability': {'cancomment': 1, 'canaddmeta': 0},
         'usage': {'candownload': 1, 'canblog': 1, 'canprint': 1, 'canshare': 1},
         'comments': {'_content': str(len(ph.comments))},
         'notes': {'note': [_note_record(ph, n) for n in ph.notes]},
         'people': {'haspeople': 1 if ph.people else 0},
         'tags': {'tag': [_tag_record(a, ph, raw) for raw in ph.tags + ph.machine_tags]}}
    if ph.no_original:
        del d['originalsecret'], d['originalformat']
    elif ph.no_originalformat:
        del d['originalformat']
    if ph.listed_originalformat is not None and not ph.no_original:
        d['originalformat'] = ph.listed_originalformat
    if ph.geotagged:
        d['location'] = _location(ph)
        d['geoperms'] = {'ispublic': 1, 'iscontact': 0, 'isfriend': 0, 'isfamily': 0}
    d['urls'] = {'url': [{'type': 'photopage', '_content': 'https://www.flickr.com/photos/%s/%s/'
                          % (_page_user(ctx, ph), ph.id)}]}
    d['media'] = ph.media
    if ph.is_video:
        d['video'] = {'ready': 1, 'failed': 0, 'pending': 0, 'duration': str(ph.duration),
                      'width': str(ph.width), 'height': str(ph.height)}
    return {'photo': d}


def _tag_record(account, photo, raw):
    h = int(hashlib.md5(raw.encode()).hexdigest()[:6], 16)
    return {'id': '%s-%s-%d' % (account.user_digits, photo.id, h), 'author': account.nsid,
            'authorname': account.username, 'raw': raw, '_content': normalize_tag(raw),
            'machine_tag': 1 if raw in photo.machine_tags else 0}


# A place's neighbourhood, '' where Flickr has none (the 2023 sample's empty <neighbourhood />).
NEIGHBOURHOODS = {'Ærøskøbing': '', 'Zagreb': 'Gornji Grad', '東京': '新宿', 'Sydney': 'The Rocks',
                  'Reykjavík': ''}


def _location(photo):
    place = _place(photo)
    d = {'latitude': photo.latitude, 'longitude': photo.longitude, 'accuracy': '16', 'context': '0'}
    for level, name in zip(('locality', 'county', 'region', 'country'), place[2:]):
        place_id, woeid = _place_ids(photo, level)
        d[level] = {'_content': name, 'place_id': place_id, 'woeid': woeid}
    hood = NEIGHBOURHOODS.get(place[2], '')
    d['neighbourhood'] = {'_content': hood}
    if hood:
        d['neighbourhood'].update(zip(('place_id', 'woeid'), _place_ids(photo, 'neighbourhood')))
    d['place_id'], d['woeid'] = _place_ids(photo, 'locality')
    return d


@api('flickr.photos.getSizes')
def m_photos_get_sizes(ctx):
    ph, a, base = ctx.photo(), ctx.account, ctx.base
    page = 'https://www.flickr.com/photos/%s/%s/' % (_page_user(ctx, ph), ph.id)
    sizes = []
    for _key, suffix, label, path, longest, square, htype, wtype in offered_sizes(ctx.fake, ph):
        dims = size_dims(ph, longest, square)
        sizes.append({'label': label, 'width': wtype(dims[0]), 'height': htype(dims[1]),
                      'source': static_url(base, ph, suffix), 'url': page + 'sizes/%s/' % path,
                      'media': 'photo'})
    if original_offered(ctx.fake, ph):
        sizes.append({'label': 'Original', 'width': str(ph.width), 'height': str(ph.height),
                      'source': static_url(base, ph, '_o'), 'url': page + 'sizes/o/',
                      'media': 'photo'})
    if ph.is_video:
        renditions = renditions_of(ph)
        site_w, site_h = renditions[0][2:]       # the player plays the Site MP4 (2016 sample)
        sizes.append({'label': 'Video Player', 'width': str(site_w), 'height': str(site_h),
                      'media': 'video', 'url': page,
                      'source': '%s/apps/video/stewart.swf?v=71377&photo_id=%s&photo_secret=%s'
                      % (base, ph.id, ph.secret)})
        for label, variant, w, h in renditions:
            sizes.append({'label': label, 'width': '' if w is None else str(w),
                          'height': '' if h is None else str(h), 'media': 'video', 'url': page,
                          'source': play_url(base, a, ph, variant)})
        if ph.video_original_available or ctx.fake.faults.video_originals != 'offered':
            sizes.append({'label': 'Video Original', 'width': str(ph.width),
                          'height': str(ph.height), 'media': 'video', 'url': page,
                          'source': play_url(base, a, ph, 'orig')})
    return {'sizes': {'canblog': 1, 'canprint': 1, 'candownload': 1, 'size': sizes}}


CAMERAS = [('Canon', 'Canon PowerShot G12'), ('NIKON CORPORATION', 'NIKON D750'),
           ('Apple', 'iPhone 12 mini'), ('FUJIFILM', 'X-T3')]


@api('flickr.photos.getExif')
def m_photos_get_exif(ctx):
    ph = ctx.photo()
    d = {'id': ph.id, 'secret': ph.secret, 'server': ph.server, 'farm': ph.farm}
    if ph.originalformat != 'jpg' or ph.is_video:
        d.update(camera='', exif=[])
        return {'photo': d}
    make, model = CAMERAS[int(ph.id) % len(CAMERAS)]

    def tag(space, space_id, name, label, raw, clean=None):
        t = {'tagspace': space, 'tagspaceid': space_id, 'tag': name, 'label': label,
             'raw': {'_content': raw}}
        if clean:
            t['clean'] = {'_content': clean}
        return t
    d.update(camera=model, exif=[
        tag('IFD0', 0, 'Make', 'Make', make), tag('IFD0', 0, 'Model', 'Model', model),
        tag('ExifIFD', 0, 'ExposureTime', 'Exposure', '1/250', '0.004 sec (1/250)'),
        tag('ExifIFD', 0, 'FNumber', 'Aperture', '5.6', 'f/5.6'),
        tag('ExifIFD', 0, 'ISO', 'ISO Speed', '200'),
        tag('ExifIFD', 0, 'DateTimeOriginal', 'Date and Time (Original)',
            datetaken_of(ph).replace('-', ':'))])
    return {'photo': d}


@api('flickr.photos.comments.getList')
def m_comments_get_list(ctx):
    ph = ctx.photo()
    d = {'photo_id': ph.id}
    if ph.comments:
        d['comment'] = [{
            'id': c.id, 'author': c.author, 'author_is_deleted': 0, 'authorname': c.authorname,
            'iconserver': '2683', 'iconfarm': 3, 'datecreate': str(c.datecreate),
            'permalink': 'https://www.flickr.com/photos/%s/%s/#comment%s'
                         % (_owner_of(ctx, ph), ph.id, c.id.rsplit('-', 1)[-1]),
            'path_alias': '', 'realname': '', '_content': c.text} for c in ph.comments]
    return {'comments': d}


@api('flickr.photos.getAllContexts')
def m_photos_get_all_contexts(ctx):
    ph, a = ctx.photo(), ctx.account
    sets = []
    for aid in a.albums_of(ph.id):
        album = a.albums[aid]
        primary = a.photos[album.primary]
        n_video = sum(1 for pid in album.photo_ids if a.photos[pid].is_video)
        sets.append({'title': album.title, 'id': album.id, 'primary': album.primary,
                     'secret': primary.secret, 'server': primary.server, 'farm': primary.farm,
                     'view_count': album.views, 'comment_count': album.comments,
                     'count_photo': len(album.photo_ids) - n_video, 'count_video': n_video})
    pools = [_pool_record(g) for g in a.groups_of(ph.id)]
    out = {}
    if sets:
        out['set'] = sets
    if pools:
        out['pool'] = pools
    return out


def _group_path(group):
    return group.slug or group.nsid


def _pool_record(group):
    """A pool in getAllContexts, as in the 2024 sample."""
    return {'title': group.name, 'url': '/groups/%s/pool/' % _group_path(group), 'id': group.nsid,
            'iconserver': group.iconserver, 'iconfarm': group.iconfarm,
            'members': str(group.members), 'pool_count': str(len(group.pool))}


def _album_counts(account, album):
    videos = sum(1 for pid in album.photo_ids if account.photos[pid].is_video)
    return len(album.photo_ids) - videos, videos


def _album_list_record(ctx, album, primary_extras):
    a = ctx.account
    primary = a.photos[album.primary]
    n_photos, n_videos = _album_counts(a, album)
    d = {'id': album.id, 'primary': album.primary, 'secret': primary.secret,
         'server': primary.server, 'farm': primary.farm, 'photos': str(n_photos),
         'videos': n_videos, 'title': {'_content': album.title},
         'description': {'_content': album.description}, 'needs_interstitial': 0,
         'visibility_can_see_set': 1, 'count_views': str(album.views),
         'count_comments': str(album.comments), 'can_comment': 1,
         'date_create': str(album.date_create), 'date_update': str(album.date_update)}
    if primary_extras:
        d['primary_photo_extras'] = photo_extras(ctx, primary, primary_extras)
    return d


@api('flickr.photosets.getList')
def m_photosets_get_list(ctx):
    ctx.check_user()
    ids = ctx.account.album_order()
    if 'per_page' in ctx.params or 'page' in ctx.params:
        chunk, page, pages, per_page, total = paginate(ctx, ids, 500, 500)
    else:
        chunk, page, pages, per_page, total = ids, 1, 1, len(ids), len(ids)
    extras = ctx.extras('primary_photo_extras')
    return {'photosets': {'cancreate': 1, 'page': page, 'pages': pages, 'perpage': per_page,
                          'total': total, 'photoset': [
                              _album_list_record(ctx, ctx.account.albums[aid], extras)
                              for aid in chunk]}}


@api('flickr.photosets.getInfo')
def m_photosets_get_info(ctx):
    album, a = ctx.album(), ctx.account
    primary = a.photos[album.primary]
    n_photos, n_videos = _album_counts(a, album)
    return {'photoset': {
        'id': album.id, 'owner': a.nsid, 'username': a.username, 'primary': album.primary,
        'secret': primary.secret, 'server': primary.server, 'farm': primary.farm,
        'photos': len(album.photo_ids), 'count_views': str(album.views),
        'count_comments': str(album.comments), 'count_photos': str(n_photos),
        'count_videos': n_videos, 'title': {'_content': album.title},
        'description': {'_content': album.description}, 'can_comment': 1,
        'date_create': str(album.date_create), 'date_update': str(album.date_update),
        'coverphoto_server': '0', 'coverphoto_farm': 0}}


@api('flickr.photosets.getPhotos')
def m_photosets_get_photos(ctx):
    album, a, p = ctx.album(), ctx.account, ctx.params
    ids = [pid for pid in album.photo_ids
           if _media_ok(a.photos[pid], p.get('media')) and _privacy_ok(a.photos[pid], p.get('privacy_filter'))]
    chunk, page, pages, per_page, total = paginate(ctx, ids, 500, 500)
    chunk = short_page(ctx, chunk, page, pages)
    extras = ctx.extras()
    return {'photoset': {'id': album.id, 'primary': album.primary, 'owner': a.nsid,
                         'ownername': a.username,
                         'photo': [photo_record(ctx, a.photos[pid], extras, album) for pid in chunk],
                         'page': page, 'per_page': per_page, 'perpage': per_page, 'pages': pages,
                         'total': str(total), 'title': album.title}}


def _collection_record(ctx, col):
    d = {'id': col.id, 'title': col.title, 'description': col.description,
         'iconlarge': ctx.base + '/images/collection_default_l.gif',
         'iconsmall': ctx.base + '/images/collection_default_s.gif'}
    if col.children:
        d['collection'] = [_collection_record(ctx, c) for c in col.children]
    elif col.album_ids:
        albums = ctx.account.albums
        d['set'] = [{'id': aid, 'title': albums[aid].title, 'description': albums[aid].description}
                    for aid in col.album_ids if aid in albums]
    return d


@api('flickr.collections.getTree')
def m_collections_get_tree(ctx):
    ctx.check_user()
    cid = ctx.params.get('collection_id', '0') or '0'
    if cid == '0':
        tree = ctx.account.collections
    else:
        col = ctx.account.find_collection(cid)
        if col is None:
            raise ApiError(1, 'Collection not found')
        tree = [col]
    return {'collections': {'collection': [_collection_record(ctx, c) for c in tree]} if tree else {}}


@api('flickr.favorites.getList')
def m_favorites_get_list(ctx):
    ctx.check_user()
    lo = _epoch_param(ctx.params.get('min_fave_date'))
    hi = _epoch_param(ctx.params.get('max_fave_date'))
    favs = sorted(((ph, when) for ph, when in ctx.account.favorites
                   if (lo is None or when >= lo) and (hi is None or when <= hi)),
                  key=lambda f: (f[1], int(f[0].id)), reverse=True)
    chunk, page, pages, per_page, total = paginate(ctx, favs)
    extras = ctx.extras()
    return {'photos': {'page': page, 'pages': pages, 'perpage': per_page, 'total': str(total),
                       'photo': [dict(photo_record(ctx, ph, extras), date_faved=str(when))
                                 for ph, when in chunk]}}


def _note_record(photo, note):
    """A note in getInfo: the 2025 sample's attributes, its text as the node's content."""
    return {'id': note.id, 'photo_id': photo.id, 'author': note.author,
            'authorname': note.authorname, 'authorrealname': note.authorrealname,
            'authorispro': 0, 'authorisdeleted': 0, 'x': str(note.x), 'y': str(note.y),
            'w': str(note.w), 'h': str(note.h), '_content': note.text}


@api('flickr.photos.people.getList')
def m_photos_people_get_list(ctx):
    ph = ctx.photo()
    fw, fh = note_frame(ph)
    people = []
    for person in ph.people:
        alias = (ctx.account.path_alias or '') if person.nsid == ctx.account.nsid else person.path_alias
        d = {'nsid': person.nsid, 'username': person.username, 'iconserver': person.iconserver,
             'iconfarm': person.iconfarm, 'path_alias': alias,
             'added_by': person.added_by, 'is_deleted': 0}
        if person.realname:
            d['realname'] = person.realname
        if person.box:
            x, y, w, h = person.box
            d.update(h=str(h), w=str(w), x=str(x), y=str(y))
        people.append(d)
    return {'people': {'total': len(people), 'photo_width': fw, 'photo_height': fh,
                       'person': people}}


LICENSES = [  # flickr.photos.licenses.getInfo as Flickr answered on 19 Jun 2025 (the sample)
    (0, 'All Rights Reserved', 'https://www.flickrhelp.com/hc/en-us/articles/'
                               '10710266545556-Using-Flickr-images-shared-by-other-members'),
    (4, 'CC BY 2.0', 'https://creativecommons.org/licenses/by/2.0/'),
    (6, 'CC BY-ND 2.0', 'https://creativecommons.org/licenses/by-nd/2.0/'),
    (3, 'CC BY-NC-ND 2.0', 'https://creativecommons.org/licenses/by-nc-nd/2.0/'),
    (2, 'CC BY-NC 2.0', 'https://creativecommons.org/licenses/by-nc/2.0/'),
    (1, 'CC BY-NC-SA 2.0', 'https://creativecommons.org/licenses/by-nc-sa/2.0/'),
    (5, 'CC BY-SA 2.0', 'https://creativecommons.org/licenses/by-sa/2.0/'),
    (7, 'No known copyright restrictions', 'https://www.flickr.com/commons/usage/'),
    (8, 'United States Government Work', 'https://www.usa.gov/government-copyright'),
    (9, 'Public Domain Dedication (CC0)', 'https://creativecommons.org/publicdomain/zero/1.0/'),
    (10, 'Public Domain Mark', 'https://creativecommons.org/publicdomain/mark/1.0/'),
    (11, 'CC BY 4.0', 'https://creativecommons.org/licenses/by/4.0/'),
    (12, 'CC BY-SA 4.0', 'https://creativecommons.org/licenses/by-sa/4.0/'),
    (13, 'CC BY-ND 4.0', 'https://creativecommons.org/licenses/by-nd/4.0/'),
    (14, 'CC BY-NC 4.0', 'https://creativecommons.org/licenses/by-nc/4.0/'),
    (15, 'CC BY-NC-SA 4.0', 'https://creativecommons.org/licenses/by-nc-sa/4.0/'),
    (16, 'CC BY-NC-ND 4.0', 'https://creativecommons.org/licenses/by-nc-nd/4.0/'),
]


@api('flickr.photos.licenses.getInfo')
def m_licenses_get_info(ctx):
    return {'licenses': {'license': [{'id': lid, 'name': name, 'url': url}
                                     for lid, name, url in LICENSES]}}


def _gallery_record(ctx, gallery, primary_extras):
    """A gallery as galleries.getList gives it (the element of the 2024 getListForPhoto sample)."""
    a = ctx.account
    photos = [a.find_photo(pid) for pid, _comment in gallery.items]
    videos = sum(1 for p in photos if p.is_video)
    primary = a.find_photo(gallery.primary)
    d = {'id': gallery.id, 'gallery_id': gallery.gallery_id,
         'url': 'https://www.flickr.com/photos/%s/galleries/%s' % (
             a.path_alias or a.nsid, gallery.gallery_id),
         'owner': a.nsid, 'username': a.username, 'iconserver': a.iconserver,
         'iconfarm': a.iconfarm, 'primary_photo_id': gallery.primary,
         'date_create': str(gallery.date_create), 'date_update': str(gallery.date_update),
         'count_photos': str(len(photos) - videos), 'count_videos': str(videos),
         'count_total': str(len(photos)), 'count_views': str(gallery.views),
         'count_comments': '0', 'sort_group': '', 'primary_photo_server': primary.server,
         'primary_photo_farm': primary.farm, 'primary_photo_secret': primary.secret,
         'title': {'_content': gallery.title}, 'description': {'_content': gallery.description}}
    if primary_extras:
        d['primary_photo_extras'] = photo_extras(ctx, primary, primary_extras)
    return d


@api('flickr.galleries.getList')
def m_galleries_get_list(ctx):
    ctx.check_user()
    ids = list(ctx.account.galleries)
    chunk, page, pages, per_page, total = paginate(ctx, ids)
    extras = ctx.extras('primary_photo_extras')
    return {'galleries': {'total': total, 'page': page, 'pages': pages, 'per_page': per_page,
                          'user_id': ctx.account.nsid, 'gallery': [
                              _gallery_record(ctx, ctx.account.galleries[gid], extras)
                              for gid in chunk]}}


@api('flickr.galleries.getListForPhoto')
def m_galleries_get_list_for_photo(ctx):
    ph = ctx.photo()
    ids = [gid for gid, g in ctx.account.galleries.items()
           if any(pid == ph.id for pid, _comment in g.items)]
    chunk, page, pages, per_page, total = paginate(ctx, ids)
    return {'galleries': {'total': total, 'page': page, 'pages': pages, 'per_page': per_page,
                          'photo_id': ph.id, 'gallery': [
                              _gallery_record(ctx, ctx.account.galleries[gid], set())
                              for gid in chunk]}}


@api('flickr.galleries.getPhotos')
def m_galleries_get_photos(ctx):
    gallery = ctx.account.galleries.get(ctx.params.get('gallery_id', ''))
    if gallery is None:
        raise ApiError(1, 'Invalid gallery ID')
    chunk, page, pages, per_page, total = paginate(ctx, gallery.items)
    extras, out = ctx.extras(), []
    for pid, comment in chunk:
        d = photo_record(ctx, ctx.account.find_photo(pid), extras)
        d.update(is_primary=int(pid == gallery.primary), has_comment=int(bool(comment)))
        if comment:
            d['comment'] = {'_content': comment}
        out.append(d)
    return {'photos': {'page': page, 'pages': pages, 'perpage': per_page, 'total': str(total),
                       'photo': out}}


@api('flickr.people.getGroups')
def m_people_get_groups(ctx):
    ctx.check_user(required=True)
    return {'groups': {'group': [{
        'nsid': g.nsid, 'name': g.name, 'iconfarm': g.iconfarm, 'iconserver': g.iconserver,
        'admin': g.admin, 'eighteenplus': g.eighteenplus, 'invitation_only': g.invitation_only,
        'members': str(g.members), 'pool_count': str(len(g.pool))}
        for g in ctx.account.groups.values()]}}


@api('flickr.groups.pools.getPhotos')
def m_groups_pools_get_photos(ctx):
    group = ctx.account.groups.get(ctx.params.get('group_id', ''))
    if group is None:
        raise ApiError(2, 'Unknown group')
    uid = ctx.params.get('user_id')
    pool = [e for e in group.pool
            if not uid or _owner_of(ctx, ctx.account.find_photo(e[0])) == uid]
    chunk, page, pages, per_page, total = paginate(ctx, pool)
    extras, out = ctx.extras(), []
    for pid, added in chunk:
        ph = ctx.account.find_photo(pid)
        out.append(dict(photo_record(ctx, ph, extras), ownername=_ownername_of(ctx, ph),
                        dateadded=str(added)))
    return {'photos': {'page': page, 'pages': pages, 'perpage': per_page, 'total': str(total),
                       'photo': out}}


@api('flickr.photosets.comments.getList')
def m_photosets_comments_get_list(ctx):
    album, a = ctx.album(), ctx.account
    d = {'photoset_id': album.id}
    if album.comment_list:
        d['comment'] = [{
            'id': c.id, 'author': c.author, 'authorname': c.authorname,
            'date_create': str(c.datecreate),
            'permalink': 'https://www.flickr.com/photos/%s/albums/%s/#comment%s'
                         % (a.path_alias or a.nsid, album.id, c.id.rsplit('-', 1)[-1]),
            '_content': c.text} for c in album.comment_list]
    return {'comments': d}


# ---------------------------------------------------------------------------
# Response rendering: JSON, JSONP, Flickr XML
# ---------------------------------------------------------------------------

_XML_BAD = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')


def _xml_text(value):
    if value is None:
        return ''
    if isinstance(value, bool):
        value = int(value)
    return html.escape(_XML_BAD.sub('', str(value)), quote=False)


def _xml_attr(value):
    return '"%s"' % _xml_text(value).replace('"', '&quot;').replace('\n', '&#10;').replace(
        '\r', '&#13;').replace('\t', '&#9;')


def _xml_node(name, value, depth):
    indent = '\t' * depth
    if isinstance(value, list):
        return ''.join(_xml_node(name, item, depth) for item in value)
    if not isinstance(value, dict):
        return '%s<%s>%s</%s>\n' % (indent, name, _xml_text(value), name)
    attrs = ''.join(' %s=%s' % (k, _xml_attr(v)) for k, v in value.items()
                    if k != '_content' and not isinstance(v, (dict, list)))
    children = ''.join(_xml_node(k, v, depth + 1) for k, v in value.items()
                       if isinstance(v, (dict, list)))
    text = _xml_text(value.get('_content'))
    if not children and not text:
        return '%s<%s%s />\n' % (indent, name, attrs)
    if not children:
        return '%s<%s%s>%s</%s>\n' % (indent, name, attrs, text, name)
    return '%s<%s%s>%s\n%s%s</%s>\n' % (indent, name, attrs, text, children, indent, name)


def render_xml(payload):
    head = '<?xml version="1.0" encoding="utf-8" ?>\n'
    if payload.get('stat') == 'fail':
        return (head + '<rsp stat="fail">\n\t<err code=%s msg=%s />\n</rsp>\n' % (
            _xml_attr(payload['code']), _xml_attr(payload['message']))).encode()
    body = ''.join(_xml_node(k, v, 0) for k, v in payload.items() if k != 'stat')
    return (head + '<rsp stat="ok">\n' + body + '</rsp>\n').encode()


def render(payload, params):
    """(body, content type) for the response format the request asked for."""
    fmt = params.get('format', 'rest')
    if fmt == 'json':
        text = json.dumps(payload, separators=(', ', ':'))
        if params.get('nojsoncallback') not in ('1', 'true'):
            text = '%s(%s)' % (params.get('jsoncallback') or 'jsonFlickrApi', text)
        return text.encode(), 'application/json; charset=utf-8'
    return render_xml(payload), 'text/xml; charset=utf-8'


def fail_payload(code, message):
    return {'stat': 'fail', 'code': code, 'message': message}


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------

FAULT_KINDS = ('500', '502', '503', '429', '105', 'drop', 'truncate', 'html', 'empty',
               'short', '201', 'placeholder', 'file_429', 'cdn_403')
# Kinds that only make sense for some requests; a scheduled one waits for such a request.
SHORT_METHODS = ('flickr.people.getPhotos', 'flickr.photosets.getPhotos')
API_ONLY_KINDS = ('short', '201')
FILE_ONLY_KINDS = ('placeholder', 'file_429', 'cdn_403')
ORIGINAL_ONLY_KINDS = ('placeholder', 'cdn_403')      # only a photo's `_o` static URL
VIDEO_ORIGINAL_MODES = ('offered', '404', 'login')
RETRY_AFTER_MODES = ('always', 'never', 'mixed')
# The unkind Flickr at rates a resilient client gets through (CLI --realistic, which also
# sets quirks=True; POST /_fake/faults {"realistic": true}; faults.update(realistic=True)).
REALISTIC = {'video_originals': 'login', 'short_page_rate': 0.1, 'fail_201_rate': 0.05,
             'placeholder_rate': 0.05, 'file_429_rate': 0.05, 'file_retry_after': 'mixed',
             'retry_after': 1, 'hourly_limit': 3600}
MESSAGE_201 = 'Sorry, the Flickr API service is not currently available.'   # as Flickr sends it


@dataclass
class Faults:
    """Fault switches; settable at any time (from tests or POST /_fake/faults).

    Random faults (rates are probabilities per request) hit requests of the kinds
    named by `targets` ('api', 'file' or 'any'); `kind_targets` overrides it per
    kind, e.g. {'drop': 'file'}.  '105' and `hourly_limit` only ever hit the API.
    """
    api_latency: float = 0.0       # seconds added to every REST call
    file_latency: float = 0.0      # seconds added to every file request
    bandwidth: int = 0             # bytes/s per response, 0 = unlimited
    error_rate: float = 0.0        # HTTP 500/502/503 with a short HTML body
    rate_429: float = 0.0          # HTTP 429 with Retry-After
    retry_after: int = 1
    fail_105_rate: float = 0.0     # HTTP 200, stat fail, code 105
    drop_rate: float = 0.0         # close the connection without answering
    truncate_rate: float = 0.0     # full Content-Length, half the body, close
    html_rate: float = 0.0         # HTTP 200 with an HTML error page
    hourly_limit: int = 0          # API calls per rolling hour per key (0 = none)
    hourly_window: float = 3600.0  # the "hour" of hourly_limit, in seconds (shorter for tests)
    # Video originals: 'offered' (per video, Photo.video_original_available), '404' (getSizes
    # lists "Video Original" for every video, its play/orig URL answers 404) or 'login' (that
    # URL redirects to a sign-in HTML page), as Flickr does for a client without a browser session.
    video_originals: str = 'offered'
    # A page of people.getPhotos / photosets.getPhotos that is not the last comes back with
    # 1..half of its items missing (page, pages, perpage and total stay right).
    short_page_rate: float = 0.0
    fail_201_rate: float = 0.0     # HTTP 200, stat fail, code 201 "... not currently available."
    placeholder_rate: float = 0.0  # a photo's `_o` URL redirects to /images/photo_unavailable.gif
    file_429_rate: float = 0.0     # file requests answer 429 ...
    file_retry_after: str = 'mixed'  # ... with Retry-After 'always', 'never' or 'mixed' (half)
    # A free (non-Pro) account since 15 May 2025: its own photos larger than 1024 px are offered
    # through the API up to 'Large' (1024) only; their larger sizes and `_o` answer 403.
    free_account: bool = False
    # A photo's `_o` static URL answers 403 Forbidden (HTML) in bursts: a hit at this rate per
    # `_o` request starts a burst of 1..cdn_403_burst such answers (that request and the next
    # `_o` requests); a retry after the burst succeeds (markdoliner/flickrmirrorer PR #25).
    cdn_403_rate: float = 0.0
    cdn_403_burst: int = 3
    # What listings send as the owner's ``pathalias`` in place of the account's (an alias
    # changed since, a stale cache): the play addresses a client builds from it answer 404,
    # while getSizes lists the working ones.  None: the account's own.
    listing_path_alias: str = None
    targets: str = 'any'
    kind_targets: dict = field(default_factory=dict)
    fault_seed: int = 0
    _rng: random.Random = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default=None, repr=False, compare=False)
    _scheduled: list = field(default_factory=list, repr=False, compare=False)
    _mutations: list = field(default_factory=list, repr=False, compare=False)
    _cdn_burst_left: int = field(default=0, repr=False, compare=False)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._rng = random.Random(self.fault_seed)

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name == 'fault_seed' and getattr(self, '_lock', None) is not None:
            with self._lock:
                self._rng = random.Random(value)

    def as_dict(self):
        d = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith('_')}
        d['scheduled'] = [dict(s) for s in self._scheduled]
        d['scheduled_mutations'] = [dict(m) for m in self._mutations]
        return d

    def update(self, **changes):
        """Set switches; `schedule` / `schedule_mutation` (a dict or a list of them) add to the
        schedules; `realistic=True` applies REALISTIC first (other keys given override it)."""
        names = {f.name for f in fields(self) if not f.name.startswith('_')}
        if changes.pop('realistic', False):
            changes = dict(REALISTIC, **changes)
        if changes.get('video_originals', self.video_originals) not in VIDEO_ORIGINAL_MODES:
            raise ValueError('video_originals must be one of %s' % (VIDEO_ORIGINAL_MODES,))
        if changes.get('file_retry_after', self.file_retry_after) not in RETRY_AFTER_MODES:
            raise ValueError('file_retry_after must be one of %s' % (RETRY_AFTER_MODES,))
        for name, value in changes.items():
            if name == 'schedule':
                for item in value if isinstance(value, list) else [value]:
                    self.schedule(**item)
            elif name == 'schedule_mutation':
                for item in value if isinstance(value, list) else [value]:
                    self.schedule_mutation(**item)
            elif name in names:
                setattr(self, name, value)
            else:
                raise ValueError('unknown fault field %r' % name)

    def reset(self):
        """All switches off, schedule cleared."""
        for f in fields(self):
            if not f.name.startswith('_'):
                setattr(self, f.name, f.default_factory() if callable(f.default_factory) else f.default)
        with self._lock:
            self._scheduled.clear()
            self._mutations.clear()
            self._cdn_burst_left = 0

    def schedule(self, kind, count=1, target='any', method=None, params=None, path=None):
        """The next `count` matching requests get fault `kind` (one of FAULT_KINDS).

        Optional filters: `method` (REST method name), `params` (a dict: REST requests whose
        parameters include all these, compared as strings, e.g. {'page': 2}) and `path`
        (file requests whose URL path contains this string, e.g. '/12345_').  A request that
        does not match a filter is left alone."""
        if kind not in FAULT_KINDS:
            raise ValueError('unknown fault kind %r' % kind)
        if target not in ('api', 'file', 'any'):
            raise ValueError('target must be api, file or any')
        if params is not None and not isinstance(params, dict):
            raise ValueError('params must be a dict')
        with self._lock:
            self._scheduled.append({'kind': kind, 'count': int(count), 'target': target,
                                    'method': method,
                                    'params': {k: str(v) for k, v in (params or {}).items()} or None,
                                    'path': path})

    def clear_schedule(self):
        with self._lock:
            self._scheduled.clear()
            self._mutations.clear()

    def schedule_mutation(self, action, args=None, method=None, params=None):
        """Before answering the next REST request that matches `method` / `params` (as in
        `schedule`), run mutation `action(**args)` (one of MUTATIONS), once: the account
        changes between two requests of a client's walk, e.g. between two listing pages."""
        if action not in MUTATIONS:
            raise ValueError('unknown mutation %r' % action)
        if args is not None and not isinstance(args, dict):
            raise ValueError('args must be a dict')
        if params is not None and not isinstance(params, dict):
            raise ValueError('params must be a dict')
        with self._lock:
            params = {k: str(v) for k, v in (params or {}).items()} or None
            self._mutations.append({'action': action, 'args': dict(args or {}), 'target': 'api',
                                    'method': method, 'path': None, 'params': params})

    def take_mutations(self, method, params):
        """The scheduled mutations due before this REST request (removed from the schedule)."""
        with self._lock:
            due = [m for m in self._mutations if self._matches(m, 'api', method, params, None)]
            self._mutations = [m for m in self._mutations if m not in due]
        return [(m['action'], m['args']) for m in due]

    def roll(self, rate):
        """One per-request random decision at `rate` (no draw when the rate is 0)."""
        if not rate:
            return False
        with self._lock:
            return self._rng.random() < rate

    def short_page_drops(self, n):
        """Which item positions (1..half of n, anywhere in the page) a short page leaves out."""
        with self._lock:
            k = self._rng.randint(1, max(1, n // 2))
            return set(self._rng.sample(range(n), min(k, n)))

    def _hits(self, kind, target):
        wanted = self.kind_targets.get(kind, self.targets)
        if isinstance(wanted, str):
            return wanted in ('any', 'both', target)
        return target in wanted

    @staticmethod
    def _applies(kind, target, method, original):
        if kind in API_ONLY_KINDS and target != 'api':
            return False
        if kind == 'short' and method not in SHORT_METHODS:
            return False
        if kind in FILE_ONLY_KINDS and target != 'file':
            return False
        return kind not in ORIGINAL_ONLY_KINDS or original

    @staticmethod
    def _matches(s, target, method, params, path):
        if s['target'] not in ('any', target) or s['method'] not in (None, method):
            return False
        if s.get('params') and any(str((params or {}).get(k)) != v for k, v in s['params'].items()):
            return False
        return not s.get('path') or s['path'] in (path or '')

    def pick(self, target, method=None, params=None, path=None, original=False):
        """The fault for this request ('api' or 'file'; `original`: a photo's `_o` file), or None.
        'short' is only returned for a listing method's request: it is applied (or not, on
        the last page) by the method itself."""
        with self._lock:
            for i, s in enumerate(self._scheduled):
                if self._matches(s, target, method, params, path) and self._applies(
                        s['kind'], target, method, original):
                    s['count'] -= 1
                    if s['count'] <= 0:
                        del self._scheduled[i]
                    return s['kind']
            if original and self._cdn_burst_left > 0:       # a CDN 403 burst goes on
                self._cdn_burst_left -= 1
                return 'cdn_403'
            for kind, rate in (('drop', self.drop_rate), ('error', self.error_rate),
                               ('429', self.rate_429), ('105', self.fail_105_rate),
                               ('html', self.html_rate), ('truncate', self.truncate_rate),
                               ('201', self.fail_201_rate), ('placeholder', self.placeholder_rate),
                               ('file_429', self.file_429_rate), ('cdn_403', self.cdn_403_rate)):
                if not rate or (kind == '105' and target != 'api') or not self._hits(kind, target) \
                        or not self._applies(kind, target, method, original):
                    continue
                if self._rng.random() < rate:
                    if kind == 'cdn_403':
                        self._cdn_burst_left = self._rng.randint(1, max(1, int(self.cdn_403_burst))) - 1
                    return self._rng.choice(('500', '502', '503')) if kind == 'error' else kind
        return None


# ---------------------------------------------------------------------------
# Static files & video play URLs
# ---------------------------------------------------------------------------

STATIC_RE = re.compile(r'^/static/(?P<server>\d+)/(?P<id>\d+)_(?P<secret>[0-9a-f]+)'
                       r'(?:_(?P<suffix>[a-z0-9]+))?\.(?P<ext>jpg|png|gif)$')
PLAY_RE = re.compile(r'^/photos/(?P<nsid>[^/]+)/(?P<id>\d+)/play/(?P<variant>[a-z0-9_]+)/'
                     r'(?P<secret>[0-9a-f]+)/?$')
VIDEO_RE = re.compile(r'^/video/(?P<id>\d+)/(?P<secret>[0-9a-f]+)/(?P<variant>[a-z0-9_]+)'
                      r'\.(?P<ext>mp4|mov)$')
IMAGE_TYPES = {'jpg': 'image/jpeg', 'png': 'image/png', 'gif': 'image/gif'}
VIDEO_TYPES = {'mp4': 'video/mp4', 'mov': 'video/quicktime'}


def resolve_static(fake, path):
    """(bytes, content type) of a /static/ URL, None (404) or 403 (a size the free-account
    limit refuses)."""
    m = STATIC_RE.match(path)
    if not m:
        return None
    with fake.lock:
        ph = fake.account.find_photo(m['id'])
        if ph is None or ph.server != m['server']:
            return None
        if m['suffix'] == 'o':
            if m['secret'] != ph.originalsecret or m['ext'] != ph.originalformat or ph.no_original:
                return None
            if free_limited(fake, ph):
                return 403
            return original_bytes(fake.seed, ph, fake.file_size), IMAGE_TYPES[ph.originalformat]
        if m['secret'] != ph.secret or m['ext'] != 'jpg' or (
                m['suffix'] is not None and m['suffix'] not in DERIVED_SUFFIXES):
            return None
        if free_limited(fake, ph) and m['suffix'] in FREE_REFUSED_SUFFIXES:
            return 403
        return derived_bytes(fake.seed, ph, m['suffix']), 'image/jpeg'


def is_photo_original(fake, path):
    """True for the `_o` static URL of a photo (not a video's still frame)."""
    m = STATIC_RE.match(path)
    if not m or m['suffix'] != 'o':
        return False
    with fake.lock:
        ph = fake.account.find_photo(m['id'])
        return ph is not None and not ph.is_video


def _video_token(fake, photo_id, secret, variant, expires):
    mac = hmac.new(('%s:%s' % (fake.seed, fake.api_secret)).encode(),
                   ('%s|%s|%s|%d' % (photo_id, secret, variant, expires)).encode(),
                   hashlib.sha1).hexdigest()
    raw = json.dumps({'i': int(photo_id), 'e': expires, 's': mac, 'v': 1}, separators=(',', ':'))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip('=')


def resolve_play(fake, path):
    """Location for a video play URL, or None (404)."""
    m = PLAY_RE.match(path)
    if not m:
        return None
    with fake.lock:
        ph = fake.account.find_photo(m['id'])
        if ph is None or not ph.is_video:
            return None
        owners = {ph.owner} if ph.owner else {fake.account.nsid, fake.account.path_alias}
        if m['nsid'] not in owners:         # another user's address for this video
            return None
        variant = m['variant']
        if variant == 'orig':
            if m['secret'] != ph.originalsecret:
                return None
            mode = fake.faults.video_originals
            if mode == 'login':         # no browser session: Flickr wants a sign-in
                return '%s/signin/?acf=%s' % (fake.base_url, urllib.parse.quote(path, safe=''))
            if mode == '404' or not ph.video_original_available:
                return None
        elif m['secret'] != ph.secret or variant not in {r[1] for r in renditions_of(ph)}:
            return None
        ext = ph.video_ext if variant == 'orig' else 'mp4'
    expires = int(time.time()) + 86400
    return '%s/video/%s/%s/%s.%s?s=%s' % (fake.base_url, ph.id, m['secret'], variant, ext,
                                          _video_token(fake, ph.id, m['secret'], variant, expires))


def resolve_video(fake, path, query):
    """(bytes, content type), or an int HTTP status for failures."""
    m = VIDEO_RE.match(path)
    if not m:
        return 404
    token = urllib.parse.parse_qs(query).get('s', [''])[0]
    try:
        info = json.loads(base64.urlsafe_b64decode(token + '=' * (-len(token) % 4)))
        expected = _video_token(fake, m['id'], m['secret'], m['variant'], info['e'])
        if not hmac.compare_digest(token, expected) or info['e'] < time.time():
            return 403
    except (ValueError, KeyError, TypeError):
        return 403
    with fake.lock:
        ph = fake.account.find_photo(m['id'])
        if ph is None or not ph.is_video or m['variant'] not in VIDEO_VARIANTS:
            return 404
        wanted = ph.originalsecret if m['variant'] == 'orig' else ph.secret
        ext = ph.video_ext if m['variant'] == 'orig' else 'mp4'
        if m['secret'] != wanted or m['ext'] != ext:
            return 404
        return video_bytes(fake.seed, ph, m['variant'], fake.file_size), VIDEO_TYPES[ext]


def _parse_range(header, size):
    """(start, end inclusive) for a single 'bytes=a-b' range, None if absent/unusable."""
    m = re.fullmatch(r'bytes=(\d*)-(\d*)', (header or '').strip())
    if not m or (not m[1] and not m[2]):
        return None
    if m[1]:
        start, end = int(m[1]), int(m[2]) if m[2] else size - 1
    else:
        start, end = max(0, size - int(m[2])), size - 1
    if start >= size or start > end:
        return None
    return start, min(end, size - 1)


# ---------------------------------------------------------------------------
# HTTP server: routing, fault application, OAuth endpoints, control endpoint
# ---------------------------------------------------------------------------

HTML_ERROR = ('<!DOCTYPE html><html><head><title>Flickr: %(status)s</title></head><body>'
              '<h1>%(status)s %(reason)s</h1><p>Flickr is having a massage. Please try again '
              'later.</p></body></html>')
PLACEHOLDER_PATH = '/images/photo_unavailable.gif'
# Seconds after a 429 during which a request may still be one sent before the client saw it
# (stats()['before_retry_after'] counts only those that come later, yet before Retry-After ends).
IN_FLIGHT = 0.5
PLACEHOLDER_GIF = placeholder_gif()
SIGNIN_PAGE = ('<!DOCTYPE html><html><head><title>Flickr Login</title></head><body>'
               '<form method="post" action="/signin/"><h1>Log in to Flickr</h1>'
               '<input type="email" name="username" placeholder="Email address">'
               '<input type="password" name="password" placeholder="Password">'
               '<button type="submit">Sign in</button></form></body></html>')
# What the CDN answers for a refused file (an HTML page, not an image).
FORBIDDEN_PAGE = (b'<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>'
                  b'<h1>403 Forbidden</h1><p>You don\'t have permission to access this '
                  b'resource.</p></body></html>')
REASONS = {429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway',
           503: 'Service Unavailable'}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'FakeFlickr/1.0'
    sys_version = ''
    timeout = 120                                   # idle keep-alive connections
    disable_nagle_algorithm = True                  # headers and body go in separate writes

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._handle('GET')

    def do_POST(self):
        self._handle('POST')

    def do_HEAD(self):
        self._handle('HEAD')

    # -- plumbing ------------------------------------------------------------

    @property
    def fake(self):
        return self.server.fake

    def _handle(self, verb):
        self.verb = verb
        length = int(self.headers.get('Content-Length') or 0)
        self.body = self.rfile.read(length) if length else b''
        split = urllib.parse.urlsplit(self.path)
        self.raw_path, self.query = split.path, split.query
        path = urllib.parse.unquote(split.path)
        try:
            self._route(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:                                       # pragma: no cover
            traceback.print_exc()
            try:
                self.reply(500, b'internal error', 'text/plain')
            except OSError:
                self.close_connection = True

    def _route(self, path):
        self.target = ('api' if path in ('/rest', '/rest/', '/services/rest', '/services/rest/') else
                       'file' if path.startswith(('/static/', '/video/', '/photos/')) else None)
        if self.target:
            self.fake._note_arrival(self.target)
        if self.target == 'api':
            return self.serve_rest()
        for name in ('request_token', 'authorize', 'access_token'):
            if path in ('/oauth/' + name, '/services/oauth/' + name):
                return getattr(self, 'serve_oauth_' + name)()
        if path.startswith('/_fake/'):
            return self.serve_control(path[len('/_fake/'):])
        if path.startswith(('/static/', '/video/', '/photos/')):
            return self.serve_file(path)
        if path == PLACEHOLDER_PATH:
            return self.reply(200, PLACEHOLDER_GIF, 'image/gif')
        if path in ('/signin', '/signin/'):
            return self.reply(200, SIGNIN_PAGE.encode(), 'text/html; charset=utf-8')
        if path in ('/images/collection_default_l.gif', '/images/collection_default_s.gif'):
            return self.reply(200, GIF_TEMPLATE, 'image/gif')
        self.reply(404, b'<html><body>404 Not Found</body></html>', 'text/html; charset=utf-8')

    def reply(self, status, body=b'', ctype='text/plain; charset=utf-8', headers=(),
              truncate=False, file=False):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
            if status == 429 and name == 'Retry-After' and getattr(self, 'target', None):
                self.fake._hold(self.target, int(value))
        self.end_headers()
        if self.verb == 'HEAD':
            return
        data = body[:len(body) // 2] if truncate else body
        self._write(data, self.fake.faults.bandwidth, file)
        if truncate:
            self.close_connection = True

    def _write(self, data, bandwidth, file):
        if not bandwidth:
            self.wfile.write(data)
            self.fake._count_bytes(len(data), file)
            return
        chunk, start, sent = max(256, int(bandwidth) // 20), time.monotonic(), 0
        for off in range(0, len(data), chunk):
            piece = data[off:off + chunk]
            self.wfile.write(piece)
            sent += len(piece)
            self.fake._count_bytes(len(piece), file)
            delay = sent / bandwidth - (time.monotonic() - start)
            if delay > 0:
                time.sleep(delay)

    def signed_request(self):
        auth = self.headers.get('Authorization', '')
        header_pairs = []
        if auth[:6].lower() == 'oauth ':
            try:
                header_pairs = [(k, oauth_utils.unescape(v))
                                for k, v in oauth_utils.parse_authorization_header(auth)
                                if k != 'realm']
            except ValueError:
                header_pairs = []
        body_pairs = []
        ctype = self.headers.get('Content-Type', '')
        if self.body and (not ctype or ctype.startswith('application/x-www-form-urlencoded')):
            body_pairs = urllib.parse.parse_qsl(self.body.decode('utf-8', 'replace'),
                                                keep_blank_values=True)
        return SignedRequest(self.verb, self.headers.get('Host') or '127.0.0.1', self.raw_path,
                             urllib.parse.parse_qsl(self.query, keep_blank_values=True),
                             body_pairs, header_pairs)

    def apply_fault(self, kind, fmt_params=None):
        """Answer with fault `kind`; returns False for kinds applied later (truncate)."""
        if kind == 'truncate':
            return False
        if kind == 'drop':
            self.close_connection = True
            return True
        if kind in ('500', '502', '503', '429'):
            status = int(kind)
            headers = [('Retry-After', str(self.fake.faults.retry_after))] if status == 429 else []
            body = (HTML_ERROR % {'status': status, 'reason': REASONS[status]}).encode()
            self.reply(status, body, 'text/html; charset=utf-8', headers)
        elif kind == '105':
            body, ctype = render(fail_payload(105, 'Service currently unavailable'), fmt_params or {})
            self.reply(200, body, ctype)
        elif kind == '201':
            body, ctype = render(fail_payload(201, MESSAGE_201), fmt_params or {})
            self.reply(200, body, ctype)
        elif kind == 'placeholder':
            self.reply(302, b'', 'text/html; charset=utf-8',
                       [('Location', self.fake.base_url + PLACEHOLDER_PATH)])
        elif kind == 'file_429':
            faults = self.fake.faults
            mode = faults.file_retry_after
            headers = [('Retry-After', str(faults.retry_after))] if mode == 'always' or (
                mode == 'mixed' and faults.roll(0.5)) else []
            body = (HTML_ERROR % {'status': 429, 'reason': REASONS[429]}).encode()
            self.reply(429, body, 'text/html; charset=utf-8', headers)
        elif kind == 'cdn_403':
            self.reply(403, FORBIDDEN_PAGE, 'text/html; charset=utf-8')
        elif kind == 'html':
            body = (HTML_ERROR % {'status': 'Oops', 'reason': 'Something went wrong'}).encode()
            self.reply(200, body, 'text/html; charset=utf-8')
        elif kind == 'empty':
            self.reply(200, b'', 'image/jpeg')
        return True

    # -- REST --------------------------------------------------------------

    def serve_rest(self):
        fake = self.fake
        req = self.signed_request()
        params = req.params()
        method = params.get('method', '')
        fake._count_api(method)
        for action, args in fake.faults.take_mutations(method, params):
            fake.run_mutation(action, args)
        if fake.faults.api_latency:
            time.sleep(fake.faults.api_latency)
        key = req.oauth().get('oauth_consumer_key') or params.get('api_key') or ''
        wait = fake._hourly_wait(key)
        if wait is not None:
            fake._count_fault('hourly_limit')
            body = (HTML_ERROR % {'status': 429, 'reason': REASONS[429]}).encode()
            return self.reply(429, body, 'text/html; charset=utf-8', [('Retry-After', str(wait))])
        kind = fake.faults.pick('api', method, params)
        if kind and kind != 'short':            # counted by the method when it shortens
            fake._count_fault(kind)
            if self.apply_fault(kind, params):
                return
        payload = fake.call_api(req, params, short=kind == 'short')
        body, ctype = render(payload, params)
        self.reply(200, body, ctype, truncate=kind == 'truncate')

    # -- OAuth endpoints ---------------------------------------------------

    def oauth_reply(self, status, pairs):
        text = pairs if isinstance(pairs, str) else urllib.parse.urlencode(pairs)
        self.reply(status, text.encode(), 'text/plain; charset=utf-8')

    def _oauth_checks(self, req, token_secret):
        """None if the consumer, timestamp, signature and nonce are fine, else the problem."""
        oauth = req.oauth()
        consumer_secret = self.fake.oauth.consumers.get(oauth.get('oauth_consumer_key'))
        if consumer_secret is None:
            return 'oauth_problem=consumer_key_unknown'
        if 'oauth_signature' not in oauth:
            return 'oauth_problem=parameter_absent&oauth_parameters_absent=oauth_signature'
        if not self.fake.oauth.timestamp_ok(oauth):
            return 'oauth_problem=timestamp_refused'
        ok, sbs = self.fake.oauth.check_signature(req, consumer_secret, token_secret)
        if not ok:
            return 'oauth_problem=signature_invalid&debug_sbs=' + sbs
        if not self.fake.oauth.use_nonce(oauth):
            return 'oauth_problem=nonce_used'
        return None

    def serve_oauth_request_token(self):
        req = self.signed_request()
        problem = self._oauth_checks(req, '')
        if problem:
            return self.oauth_reply(401, problem)
        oauth = req.oauth()
        callback = oauth.get('oauth_callback')
        if not callback:
            return self.oauth_reply(400, 'oauth_problem=parameter_absent&'
                                         'oauth_parameters_absent=oauth_callback')
        token, secret = self.fake.oauth.issue_request(oauth['oauth_consumer_key'], callback)
        self.oauth_reply(200, [('oauth_callback_confirmed', 'true'), ('oauth_token', token),
                               ('oauth_token_secret', secret)])

    def serve_oauth_authorize(self):
        query = dict(urllib.parse.parse_qsl(self.query))
        store = self.fake.oauth
        perms = query.get('perms', 'read')
        with store.lock:
            record = store.request_tokens.get(query.get('oauth_token', ''))
            if record is None or perms not in ('read', 'write', 'delete'):
                return self.reply(400, b'<html><body><h1>Oops!</h1><p>Invalid oauth_token or '
                                       b'perms.</p></body></html>', 'text/html; charset=utf-8')
            record['verifier'] = '%03d-%03d-%03d' % tuple(secrets.randbelow(1000) for _ in range(3))
            record['perms'] = perms
        token, verifier, callback = query['oauth_token'], record['verifier'], record['callback']
        if callback == 'oob':
            page = ('<!DOCTYPE html><html><head><title>Flickr: Authorized</title></head><body>'
                    '<p>You have successfully authorized the application. Enter this code:</p>'
                    '<span id="verifier">%s</span></body></html>' % verifier)
            return self.reply(200, page.encode(), 'text/html; charset=utf-8')
        sep = '&' if '?' in callback else '?'
        location = callback + sep + urllib.parse.urlencode(
            [('oauth_token', token), ('oauth_verifier', verifier)])
        self.reply(302, b'', 'text/html; charset=utf-8', [('Location', location)])

    def serve_oauth_access_token(self):
        req = self.signed_request()
        oauth, store, acct = req.oauth(), self.fake.oauth, self.fake.account
        with store.lock:
            record = store.request_tokens.get(oauth.get('oauth_token', ''))
        if record is None or record['consumer'] != oauth.get('oauth_consumer_key'):
            if oauth.get('oauth_consumer_key') not in store.consumers:
                return self.oauth_reply(401, 'oauth_problem=consumer_key_unknown')
            return self.oauth_reply(401, 'oauth_problem=token_rejected')
        problem = self._oauth_checks(req, record['secret'])
        if problem:
            return self.oauth_reply(401, problem)
        if not record['verifier'] or not hmac.compare_digest(
                record['verifier'], oauth.get('oauth_verifier', '')):
            return self.oauth_reply(401, 'oauth_problem=token_rejected')
        with store.lock:
            store.request_tokens.pop(oauth['oauth_token'], None)
        token, secret = store.issue_access(record['consumer'], record['perms'], acct.nsid)
        self.oauth_reply(200, [('fullname', acct.realname), ('oauth_token', token),
                               ('oauth_token_secret', secret), ('user_nsid', acct.nsid),
                               ('username', acct.username)])

    # -- files ---------------------------------------------------------------

    def serve_file(self, path):
        fake = self.fake
        fake._count_file()
        if fake.faults.file_latency:
            time.sleep(fake.faults.file_latency)
        kind = fake.faults.pick('file', path=path, original=is_photo_original(fake, path))
        if kind:
            fake._count_fault(kind)
            if self.apply_fault(kind):
                return
        truncate = kind == 'truncate'
        if path.startswith('/photos/'):
            location = resolve_play(fake, path)
            if location is None:
                return self.reply(404, b'<html><body>Not found</body></html>', 'text/html')
            return self.reply(302, b'', 'text/html; charset=utf-8', [('Location', location)])
        found = resolve_video(fake, path, self.query) if path.startswith('/video/') \
            else (resolve_static(fake, path) or 404)
        if found == 403:
            return self.reply(403, FORBIDDEN_PAGE, 'text/html; charset=utf-8')
        if isinstance(found, int):
            return self.reply(found, b'<html><body>%d</body></html>' % found, 'text/html')
        data, ctype = found
        headers = [('Accept-Ranges', 'bytes'), ('Cache-Control', 'max-age=315360000'),
                   ('ETag', '"%s"' % hashlib.md5(data).hexdigest())]
        rng = _parse_range(self.headers.get('Range'), len(data))
        if rng and not truncate:
            start, end = rng
            headers.append(('Content-Range', 'bytes %d-%d/%d' % (start, end, len(data))))
            return self.reply(206, data[start:end + 1], ctype, headers, file=True)
        self.reply(200, data, ctype, headers, truncate=truncate, file=True)

    # -- control endpoint --------------------------------------------------

    def serve_control(self, name):
        fake = self.fake
        try:
            args = json.loads(self.body or b'{}')
        except ValueError:
            return self.reply(400, b'{"error":"invalid JSON"}', 'application/json')
        try:
            if name == 'stats' and self.verb == 'GET':
                result = fake.stats()
            elif name == 'faults' and self.verb == 'GET':
                result = fake.faults.as_dict()
            elif name == 'info' and self.verb == 'GET':
                result = {'base_url': fake.base_url, 'api_key': fake.api_key,
                          'api_secret': fake.api_secret, 'user_nsid': fake.user_nsid,
                          'username': fake.username, 'photos': len(fake.account.photos),
                          'albums': len(fake.account.albums), 'quirks': fake.quirk_counts(),
                          'favorites': len(fake.account.favorites),
                          'galleries': len(fake.account.galleries),
                          'groups': len(fake.account.groups),
                          'path_alias': fake.account.path_alias}
            elif self.verb != 'POST':
                return self.reply(405, b'{"error":"use POST"}', 'application/json')
            elif name == 'reset_stats':
                fake.reset_stats()
                result = {'stat': 'ok'}
            elif name == 'faults':
                if args.pop('reset', False):
                    fake.faults.reset()
                fake.faults.update(**args)
                result = fake.faults.as_dict()
            elif name == 'schedule_mutation':
                fake.faults.schedule_mutation(**args)
                result = fake.faults.as_dict()
            elif name == 'mutate':
                action = args.get('action', '')
                if action not in MUTATIONS:
                    raise ValueError('unknown action %r' % action)
                result = {'stat': 'ok', 'result': getattr(fake, action)(**args.get('args', {}))}
            elif name == 'export':
                if not args.get('dir'):
                    raise ValueError('export needs "dir"')
                result = fake.write_export(args.pop('dir'), **args)
            elif name == 'token':
                token, secret = fake.issue_token(args.get('perms', 'read'))
                result = {'oauth_token': token, 'oauth_token_secret': secret,
                          'api_key': fake.api_key, 'api_secret': fake.api_secret}
            else:
                return self.reply(404, b'{"error":"unknown control endpoint"}', 'application/json')
        except (ValueError, KeyError, TypeError) as exc:
            body = json.dumps({'stat': 'fail', 'error': '%s: %s' % (type(exc).__name__, exc)})
            return self.reply(400, body.encode(), 'application/json')
        self.reply(200, json.dumps(result).encode(), 'application/json')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        """A client that went away (killed, timed out) is no error of the server's."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request):
        super().shutdown_request(request)
        self.fake._count_connection_done()


# ---------------------------------------------------------------------------
# The Python API
# ---------------------------------------------------------------------------

MUTATIONS = ('add_photo', 'delete_photo', 'replace_photo', 'edit_photo', 'add_comment',
             'create_album', 'rename_album', 'reorder_album', 'add_to_album',
             'remove_from_album', 'delete_album', 'set_collections', 'rename_collection',
             'delete_collection', 'offer_video_original', 'set_quirks', 'set_date_taken',
             'rotate_photo', 'set_path_alias', 'add_favorite', 'remove_favorite', 'add_note',
             'delete_note', 'add_person', 'create_gallery', 'add_to_gallery', 'add_to_pool',
             'add_album_comment', 'garble_photo')


class FakeFlickr:
    """A running fake Flickr: `with FakeFlickr(...) as fake: fake.base_url ...`."""

    def __init__(self, seed=1, photos=40, videos=6, albums=6, collections=3, file_size=20_000,
                 hostile_names=True, api_key='fake-api-key', api_secret='fake-api-secret',
                 host='127.0.0.1', port=0, quirks=False, path_alias=None):
        self.seed, self.file_size, self.hostile_names = seed, file_size, hostile_names
        self.api_key, self.api_secret = api_key, api_secret
        self.host, self.port = host, port
        self.account = generate_account(seed, photos, videos, albums, collections, hostile_names)
        if quirks:
            apply_quirks(self.account, seed)
        self.account.path_alias = path_alias
        self.clock = 0
        self.lock = threading.RLock()
        self.faults = Faults()
        self.oauth = OAuthStore({api_key: api_secret})
        self._mutation_rng = random.Random('mutations:%s' % seed)
        self._stats_lock = threading.Lock()
        self._hourly = defaultdict(deque)
        self.hourly_clock = time.time   # the hourly limit's clock: a test moves it on instead of waiting
        self.mutation_log = []      # scheduled mutations run: {'action', 'args', 'result' | 'error'}
        self.connections_done = 0   # connections the server has finished with (an error said, if any)
        self._held = {}             # 'api' / 'file' -> (monotonic time of a 429, when its Retry-After ends)
        self.in_flight = IN_FLIGHT
        self.reset_stats()
        self._httpd = None
        self._thread = None

    # -- lifecycle -------------------------------------------------------------

    def start(self):
        if self._httpd is None:
            self._httpd = _Server((self.host, self.port), Handler)
            self._httpd.fake = self
            self.port = self._httpd.server_address[1]
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                             kwargs={'poll_interval': 0.1},
                                             name='fakeflickr', daemon=True)
            self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return 'http://%s:%d' % (self.host, self.port)

    @property
    def user_nsid(self):
        return self.account.nsid

    @property
    def username(self):
        return self.account.username

    # -- tokens ------------------------------------------------------------------

    def add_consumer(self, api_key, api_secret):
        """Register another valid API key."""
        self.oauth.consumers[api_key] = api_secret

    def issue_token(self, perms='read'):
        """(token, token_secret) of a new access token for the default key."""
        return self.oauth.issue_access(self.api_key, perms, self.account.nsid)

    def revoke_token(self, token):
        with self.oauth.lock:
            self.oauth.access_tokens.pop(token, None)

    def login_with_flickrapi(self, token_dir, perms='read'):
        """Run the whole OAuth flow over HTTP with a plain flickrapi.FlickrAPI.

        Sets the flickrapi URL class attributes to this server (not restored)."""
        import flickrapi
        import flickrapi.auth
        import requests
        flickrapi.FlickrAPI.REST_URL = self.base_url + '/services/rest/'
        iface = flickrapi.auth.OAuthFlickrInterface
        iface.REQUEST_TOKEN_URL = self.base_url + '/services/oauth/request_token'
        iface.AUTHORIZE_URL = self.base_url + '/services/oauth/authorize'
        iface.ACCESS_TOKEN_URL = self.base_url + '/services/oauth/access_token'
        flickr = flickrapi.FlickrAPI(self.api_key, self.api_secret, format='parsed-json',
                                     token_cache_location=str(token_dir))
        flickr.get_request_token(oauth_callback='oob')
        page = requests.get(flickr.auth_url(perms=perms), timeout=30)
        page.raise_for_status()
        verifier = re.search(r'<span id="verifier">([^<]+)</span>', page.text).group(1)
        flickr.get_access_token(verifier)
        return flickr

    # -- REST dispatch -----------------------------------------------------------

    def call_api(self, req, params, short=False):
        """The payload (dict with 'stat') for one REST request."""
        method = params.get('method', '')
        try:
            token = self.oauth.authenticate_rest(req, params)
            func = API_METHODS.get(method)
            if func is None:
                raise ApiError(112, 'Method "%s" not found' % method)
            if method not in NO_AUTH_METHODS:
                if token is None or PERM_LEVELS.get(token['perms'], 0) < PERM_LEVELS['read']:
                    raise ApiError(99, 'Insufficient permissions. Method requires read '
                                       'privileges; none granted.')
            with self.lock:
                payload = func(Ctx(self, params, token, short))
        except ApiError as err:
            return fail_payload(err.code, err.message)
        payload['stat'] = 'ok'
        return payload

    def run_mutation(self, action, args):
        """Run a scheduled mutation; its result or error goes to `mutation_log`."""
        try:
            result = {'action': action, 'args': args, 'result': getattr(self, action)(**args)}
        except (KeyError, ValueError, TypeError) as exc:
            result = {'action': action, 'args': args, 'error': '%s: %s' % (type(exc).__name__, exc)}
        with self._stats_lock:
            self.mutation_log.append(result)

    # -- statistics ------------------------------------------------------------

    def stats(self):
        with self._stats_lock:
            return {'api_calls': dict(self._api_calls), 'api_total': sum(self._api_calls.values()),
                    'file_requests': self._file_requests, 'bytes_served': self._bytes,
                    'file_bytes': self._file_bytes, 'faults': dict(self._faults),
                    'before_retry_after': dict(self._early)}

    def reset_stats(self):
        with self._stats_lock:
            self._api_calls = Counter()
            self._faults = Counter()
            self._early = Counter()
            self._file_requests = self._bytes = self._file_bytes = 0

    def _count_api(self, method):
        with self._stats_lock:
            self._api_calls[method] += 1

    def _hold(self, target, seconds):
        now = time.monotonic()
        with self._stats_lock:
            self._held[target] = (now, now + seconds)

    def _note_arrival(self, target):
        """Count a request that came while a Retry-After of its kind (API or file) was running,
        past the moment requests sent before the 429 was seen could still arrive."""
        now = time.monotonic()
        with self._stats_lock:
            since, until = self._held.get(target, (0.0, 0.0))
            if since + self.in_flight < now < until:
                self._early[target] += 1

    def _count_connection_done(self):
        with self._stats_lock:
            self.connections_done += 1

    def _count_file(self):
        with self._stats_lock:
            self._file_requests += 1

    def _count_fault(self, kind):
        with self._stats_lock:
            self._faults[kind] += 1

    def _count_bytes(self, n, file):
        with self._stats_lock:
            self._bytes += n
            if file:
                self._file_bytes += n

    def _hourly_wait(self, key):
        """None if the call is within the hourly limit, else seconds until a slot frees."""
        limit = self.faults.hourly_limit
        if not limit:
            return None
        now = self.hourly_clock()
        with self._stats_lock:
            calls = self._hourly[key]
            window = float(self.faults.hourly_window or 3600.0)
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= limit:
                return max(1, math.ceil(calls[0] + window - now))
            calls.append(now)
        return None

    # -- file content ------------------------------------------------------------

    def photo_file_bytes(self, photo_id):
        """= best_file(photo_id)[1]: the bytes a careful client keeps for this item now."""
        return self.best_file(photo_id)[1]

    def _find(self, photo_id):
        ph = self.account.find_photo(photo_id)
        if ph is None:
            raise KeyError(photo_id)
        return ph

    def video_original_downloadable(self, photo_id):
        """True when the video's play/orig URL serves the original under the current switches."""
        with self.lock:
            ph = self._find(photo_id)
            return (ph.is_video and ph.video_original_available
                    and self.faults.video_originals == 'offered')

    def best_file(self, photo_id):
        """(label, bytes, ext) a careful client keeps under the CURRENT switches: 'Original'
        for a photo that has one; 'Video Original' for a video whose original downloads now,
        else the video's rendition with the greatest height (never the Video Player), 'mp4';
        for a photo with no Original (quirk) its largest size by longest side, 'jpg'; under
        free_account, for an own photo larger than 1024 px, 'Large' (the `_b` JPEG), 'jpg'."""
        with self.lock:
            ph = self._find(photo_id)
            if ph.is_video:
                if self.video_original_downloadable(photo_id):
                    return ('Video Original', video_bytes(self.seed, ph, 'orig', self.file_size),
                            ph.video_ext)
                label, variant = best_rendition(ph)
                return label, video_bytes(self.seed, ph, variant, self.file_size), 'mp4'
            if free_limited(self, ph):
                return 'Large', derived_bytes(self.seed, ph, 'b'), 'jpg'
            if not ph.no_original:
                return 'Original', original_bytes(self.seed, ph, self.file_size), ph.originalformat
            label, suffix = largest_size(ph)
            return label, derived_bytes(self.seed, ph, suffix or None), 'jpg'

    def video_renditions(self, photo_id):
        """[(label, width or None, height or None)]: the video's MP4 renditions in getSizes
        order (not the Video Player, not the Video Original)."""
        with self.lock:
            return [(label, w, h) for label, _v, w, h in renditions_of(self._find(photo_id))]

    def rendition_bytes(self, photo_id, label):
        """The bytes served for one rendition label (or 'Video Original') of a video."""
        with self.lock:
            ph = self._find(photo_id)
            variants = {r[0]: r[1] for r in renditions_of(ph)}
            variants['Video Original'] = 'orig'
            return video_bytes(self.seed, ph, variants[label], self.file_size)

    def still_file_bytes(self, photo_id):
        """The `_o.jpg` still frame of a video (the original of a photo)."""
        with self.lock:
            return original_bytes(self.seed, self.account.find_photo(photo_id), self.file_size)

    def video_file_bytes(self, photo_id, variant='orig'):
        """A video's bytes: variant 'orig' or a rendition's (VIDEO_RENDITIONS: 'site', 'hd', ...)."""
        with self.lock:
            return video_bytes(self.seed, self.account.find_photo(photo_id), variant, self.file_size)

    def size_file_bytes(self, photo_id, suffix):
        """A derived size's JPEG bytes, suffix like 'q', 'z', 'b' or '' (Medium)."""
        with self.lock:
            return derived_bytes(self.seed, self.account.find_photo(photo_id), suffix or None)

    # -- the data export -----------------------------------------------------------

    def write_export(self, directory, files_per_zip=500, naming='data', empty_albums=False,
                     merge_friend_family=False, drop_zip=None, shapes=(), missing_media=0,
                     galleries=False):
        """Write the account's data export ("Request my Flickr data") into `directory`: one
        metadata zip and media zips of `files_per_zip` true originals each.  `naming` 'data'
        ('data_<digits>_<hex>_<n>.zip', Flickr's since 2025) or 'data-download'
        ('data-download-<n>.zip', the older one).  Faults: `empty_albums` (per-photo "albums"
        empty), `merge_friend_family` (friends-only and family-only both "friend & family"),
        `drop_zip` (1-based number of a media zip left out).  `shapes`: the shapes of real
        exports to write (EXPORT_SHAPES; 'real' for all); `missing_media`: the share of media
        files left out.  `galleries`: galleries.json lists the account's galleries (else none,
        as for an account without any).  Returns the manifest (see module function
        write_export)."""
        return write_export(self, directory, files_per_zip, naming, empty_albums,
                            merge_friend_family, drop_zip, shapes, missing_media, galleries)

    def export_file_bytes(self, photo_id):
        """The exact bytes the export holds for this photo or video (its true original)."""
        with self.lock:
            return export_true_bytes(self, self._photo(photo_id))

    def export_file_name(self, photo_id, shapes=()):
        """The name of this photo's or video's file inside its media zip."""
        with self.lock:
            return export_member_name(self._photo(photo_id), export_shapes(shapes), _double_named(self.account))

    # -- mutations (each advances the logical clock) -----------------------------

    def tick(self):
        self.clock = max(int(time.time()), self.clock + 1)
        return self.clock

    def _photo(self, photo_id):
        try:
            return self.account.photos[photo_id]
        except KeyError:
            raise KeyError('no photo %r' % photo_id) from None

    def _album(self, album_id):
        try:
            return self.account.albums[album_id]
        except KeyError:
            raise KeyError('no album %r' % album_id) from None

    def add_photo(self, media='photo', fmt='jpg', title=None, albums=(), description=None,
                  tags=None, ispublic=None):
        """Upload a photo (fmt jpg/png/gif) or a video (fmt mp4/mov); returns its id."""
        with self.lock:
            now, rng, acct = self.tick(), self._mutation_rng, self.account
            acct.next_photo_id = getattr(acct, 'next_photo_id', 5_000_000_000) + rng.randint(1, 9999)
            video = media == 'video'
            photo = new_photo(rng, str(acct.next_photo_id), media, 'jpg' if video else fmt,
                              fmt if video else '', now, now,
                              title if title is not None else 'Upload %d' % now)
            photo.comments = []
            if description is not None:
                photo.description = description
            if tags is not None:
                photo.tags = list(tags)
            if ispublic is not None:
                photo.ispublic = int(ispublic)
            acct.photos[photo.id] = photo
            for album_id in albums:
                self._album(album_id).photo_ids.append(photo.id)
                self._album(album_id).date_update = now
            acct.touch()
            return photo.id

    def offer_video_original(self, photo_id, available=True):
        """Flickr starts (or stops) offering a video's original: sets video_original_available.
        Under video_originals '404' / 'login' the original stays refused all the same."""
        with self.lock:
            photo = self._photo(photo_id)
            if not photo.is_video:
                raise ValueError('%s is not a video' % photo_id)
            photo.video_original_available = bool(available)
            self.account.touch()

    def quirk_counts(self):
        with self.lock:
            photos = list(self.account.photos.values())
        return {name: sum(1 for p in photos if getattr(p, name))
                for name in ('no_original', 'no_originalformat', 'zero_datetaken')}

    def set_quirks(self, photo_id, no_original=None, no_originalformat=None, zero_datetaken=None):
        """Turn a photo's quirks on or off (None: unchanged).  Not an edit on Flickr's side, so
        lastupdate stays.  no_original is for photos only (a video's Original is its still)."""
        with self.lock:
            photo = self._photo(photo_id)
            if no_original is not None:
                if photo.is_video and no_original:
                    raise ValueError('a video always has its still frame as Original')
                photo.no_original = bool(no_original)
            if no_originalformat is not None:
                photo.no_originalformat = bool(no_originalformat)
            if zero_datetaken is not None:
                photo.zero_datetaken = bool(zero_datetaken)
                if photo.zero_datetaken:
                    photo.datetakenunknown = 0
            self.account.touch()

    def garble_photo(self, photo_id, listed_id=None, originalformat=None):
        """What a broken or hostile server sends for one photo (None: unchanged): the listings
        (people.getPhotos, photosets.getPhotos & co.) give `listed_id` as its id (e.g.
        '../../x'), and the listings and getInfo give `originalformat` verbatim (e.g. 'jp\\x00g').
        Its files, getSizes and the export stay as they were.  Not an edit: lastupdate stays."""
        with self.lock:
            photo = self._photo(photo_id)
            if listed_id is not None:
                photo.listed_id = str(listed_id)
            if originalformat is not None:
                photo.listed_originalformat = str(originalformat)
            self.account.touch()

    def set_date_taken(self, photo_id, taken=None, granularity=None, unknown=None):
        """Set a photo's date taken as Flickr then sends it: `taken` any string, served verbatim
        (invalid ones too: '0000-00-00 00:00:00', '2019-02-30 25:61:00', '1850-07-04 12:00:00');
        `granularity` 0, 4, 6 or 8; `unknown` the datetakenunknown flag.  None: unchanged.
        An edit (lastupdate changes); setting `taken` ends the zero_datetaken quirk."""
        if granularity is not None and int(granularity) not in TAKEN_GRANULARITIES:
            raise ValueError('granularity must be one of %s' % (TAKEN_GRANULARITIES,))
        with self.lock:
            photo = self._photo(photo_id)
            if taken is not None:
                photo.datetaken = str(taken)
                photo.zero_datetaken = False
            if granularity is not None:
                photo.datetakengranularity = int(granularity)
            if unknown is not None:
                photo.datetakenunknown = 1 if int(unknown) else 0
            photo.lastupdate = self.tick()
            self.account.touch()

    def rotate_photo(self, photo_id, rotation):
        """Set a photo's rotation (0, 90, 180 or 270, clockwise, from the original): its derived
        sizes are served turned (width and height swapped for 90 and 270), the original file
        is not.  As flickr.photos.transform.rotate, which answers with a new secret: the
        derived sizes get a new secret (their old URLs 404); lastupdate changes."""
        if int(rotation) not in (0, 90, 180, 270):
            raise ValueError('rotation must be 0, 90, 180 or 270')
        with self.lock:
            photo = self._photo(photo_id)
            photo.rotation = int(rotation)
            photo.secret = _hex(self._mutation_rng)
            photo.lastupdate = self.tick()
            self.account.touch()

    def set_path_alias(self, alias=None):
        """Give the account a path alias (its URL name; None: none).  getSizes, getInfo and the
        photo pages then use it instead of the NSID, as Flickr does; play addresses work with
        either.  Not a photo edit: no lastupdate changes."""
        if alias is not None and not re.fullmatch(r'[A-Za-z0-9_-]{1,50}', str(alias)):
            raise ValueError('a path alias is letters, digits, _ and -')
        with self.lock:
            self.account.path_alias = None if alias is None else str(alias)
            self.tick()
            self.account.touch()

    def delete_photo(self, photo_id):
        with self.lock:
            self._photo(photo_id)
            now = self.tick()
            del self.account.photos[photo_id]
            for album in list(self.account.albums.values()):
                if photo_id in album.photo_ids:
                    self._drop_from_album(album, photo_id, now)
            self._drop_from_galleries_and_pools(photo_id, now)
            self.account.touch()

    def _drop_from_galleries_and_pools(self, photo_id, now):
        for gid, gallery in list(self.account.galleries.items()):
            if any(pid == photo_id for pid, _c in gallery.items):
                gallery.items = [e for e in gallery.items if e[0] != photo_id]
                gallery.date_update = now
                if not gallery.items:
                    del self.account.galleries[gid]
                elif gallery.primary == photo_id:
                    gallery.primary = gallery.items[0][0]
        for group in self.account.groups.values():
            group.pool = [e for e in group.pool if e[0] != photo_id]

    def _drop_from_album(self, album, photo_id, now):
        album.photo_ids.remove(photo_id)
        album.date_update = now
        if not album.photo_ids:                 # Flickr deletes a set with no photos
            self._forget_album(album.id)
        elif album.primary == photo_id:
            album.primary = album.photo_ids[0]

    def _forget_album(self, album_id):
        self.account.albums.pop(album_id, None)
        for col in self.account.iter_collections():
            if album_id in col.album_ids:
                col.album_ids.remove(album_id)

    def replace_photo(self, photo_id):
        """New file content, new secret and originalsecret, newer lastupdate."""
        with self.lock:
            photo, rng = self._photo(photo_id), self._mutation_rng
            photo.version += 1
            photo.secret, photo.originalsecret = _hex(rng), _hex(rng)
            photo.lastupdate = self.tick()
            self.account.touch()

    def edit_photo(self, photo_id, title=None, description=None, tags=None, license=None):
        """An edit on Flickr (lastupdate changes); `license` a licence id (0-16)."""
        with self.lock:
            photo = self._photo(photo_id)
            if license is not None:
                photo.license = int(license)
            if title is not None:
                photo.title = title
            if description is not None:
                photo.description = description
            if tags is not None:
                photo.tags = list(tags)
            photo.lastupdate = self.tick()
            self.account.touch()

    def add_comment(self, photo_id, text):
        """Returns the comment id; lastupdate does not change (as on Flickr)."""
        with self.lock:
            photo = self._photo(photo_id)
            comment = _new_comment(self._mutation_rng, self.account, photo, self.tick())
            comment.text = text
            photo.comments.append(comment)
            self.account.touch()
            return comment.id

    # -- what others add: favourites, notes, people, galleries, pools, album comments --

    def _other(self, user):
        """An OtherUser by index in account.others, NSID or username."""
        others = self.account.others
        if isinstance(user, int):
            return others[user]
        found = next((o for o in others if user in (o.nsid, o.username)), None)
        if found is None:
            raise KeyError('no other user %r' % user)
        return found

    def add_favorite(self, photo_id=None, owner=0, media='photo'):
        """Fave another user's photo: an existing one of account.others_photos (photo_id) or
        a new one of `owner` (an index, NSID or username of account.others).  The newest
        favourite comes first in favorites.getList.  Returns the photo id."""
        with self.lock:
            if photo_id is None:
                photo = _other_photo(self._mutation_rng, self.account, self._other(owner),
                                     self.tick(), media)
            else:
                photo = self.account.others_photos.get(photo_id)
                if photo is None:
                    raise KeyError('no photo of another user %r' % photo_id)
            if any(fav.id == photo.id for fav, _ in self.account.favorites):
                raise ValueError('photo %s is already a favourite' % photo.id)
            self.account.favorites.append((photo, self.tick()))
            self.account.touch()
            return photo.id

    def remove_favorite(self, photo_id):
        """Unfave (the photo stays on Flickr and its files stay served)."""
        with self.lock:
            kept = [f for f in self.account.favorites if f[0].id != photo_id]
            if len(kept) == len(self.account.favorites):
                raise KeyError('photo %r is not a favourite' % photo_id)
            self.account.favorites = kept
            self.tick()
            self.account.touch()

    def add_note(self, photo_id, text, x=10, y=10, w=50, h=50, author=None):
        """A note on one of the account's photos, its box in the 500-pixel frame, by the owner
        (author None) or another user (index, NSID or username).  Notes are metadata:
        lastupdate moves.  Returns the note id."""
        with self.lock:
            photo = self._photo(photo_id)
            who = None if author is None else self._other(author)
            note = new_note(self._mutation_rng, self.account, photo, who, text,
                            (int(x), int(y), int(w), int(h)))
            photo.notes.append(note)
            photo.lastupdate = self.tick()
            self.account.touch()
            return note.id

    def delete_note(self, photo_id, note_id):
        with self.lock:
            photo = self._photo(photo_id)
            kept = [n for n in photo.notes if n.id != note_id]
            if len(kept) == len(photo.notes):
                raise KeyError('no note %r on photo %s' % (note_id, photo_id))
            photo.notes = kept
            photo.lastupdate = self.tick()
            self.account.touch()

    def add_person(self, photo_id, user=None, box=None):
        """Mark the owner (user None) or another user in a photo, with a box (x, y, w, h in
        the 500-pixel frame) or none; lastupdate moves."""
        with self.lock:
            photo = self._photo(photo_id)
            who = None if user is None else self._other(user)
            person = new_person(self.account, who, self.account.nsid,
                                None if box is None else tuple(int(v) for v in box))
            if any(p.nsid == person.nsid for p in photo.people):
                raise ValueError('already marked in photo %s' % photo_id)
            photo.people.append(person)
            photo.lastupdate = self.tick()
            self.account.touch()

    def create_gallery(self, title, photo_ids, description=''):
        """A new gallery (first in galleries.getList) of the account's photos and other users'
        (account.others_photos); returns its compound id."""
        photo_ids = list(photo_ids)
        if not photo_ids:
            raise ValueError('a gallery needs at least one photo')
        with self.lock:
            for pid in photo_ids:
                if self.account.find_photo(pid) is None:
                    raise KeyError('no photo %r' % pid)
            now = self.tick()
            gid, short = _gallery_ids(self._mutation_rng, self.account)
            gallery = Gallery(gid, short, title, description, [[pid, ''] for pid in photo_ids],
                              photo_ids[0], now, now)
            self.account.galleries = {gid: gallery, **self.account.galleries}
            self.account.touch()
            return gid

    def add_to_gallery(self, gallery_id, photo_id, comment=''):
        with self.lock:
            gallery = self.account.galleries.get(gallery_id)
            if gallery is None:
                raise KeyError('no gallery %r' % gallery_id)
            if self.account.find_photo(photo_id) is None:
                raise KeyError('no photo %r' % photo_id)
            gallery.items.append([photo_id, comment])
            gallery.date_update = self.tick()
            self.account.touch()

    def add_to_pool(self, group_id, photo_id):
        """Post one of the account's photos to a group's pool (first in its listing)."""
        with self.lock:
            group = self.account.groups.get(group_id)
            if group is None:
                raise KeyError('no group %r' % group_id)
            self._photo(photo_id)
            if any(pid == photo_id for pid, _ in group.pool):
                raise ValueError('photo %s is already in the pool' % photo_id)
            group.pool.insert(0, [photo_id, self.tick()])
            self.account.touch()

    def add_album_comment(self, album_id, text):
        """A comment on an album by another user; its count_comments grows, its date_update
        stays (like a photo's comment).  Returns the comment id."""
        with self.lock:
            album = self._album(album_id)
            comment = _new_album_comment(self._mutation_rng, self.account, album, self.tick())
            comment.text = text
            album.comment_list.append(comment)
            album.comments = len(album.comment_list)
            self.account.touch()
            return comment.id

    def create_album(self, title, photo_ids, description=''):
        """A new album (first in photosets.getList); returns its id."""
        photo_ids = list(photo_ids)
        if not photo_ids:
            raise ValueError('an album needs at least one photo (its primary)')
        with self.lock:
            for pid in photo_ids:
                self._photo(pid)
            now = self.tick()
            album = Album(_album_id(self._mutation_rng), title, description, photo_ids[0],
                          photo_ids, now, now)
            self.account.albums = {album.id: album, **self.account.albums}
            self.account.touch()
            return album.id

    def rename_album(self, album_id, title, description=None):
        with self.lock:
            album = self._album(album_id)
            album.title = title
            if description is not None:
                album.description = description
            album.date_update = self.tick()
            self.account.touch()

    def reorder_album(self, album_id, photo_ids):
        with self.lock:
            album = self._album(album_id)
            photo_ids = list(photo_ids)
            for pid in photo_ids:
                self._photo(pid)
            if not photo_ids:
                raise ValueError('an album needs at least one photo')
            album.photo_ids = photo_ids
            if album.primary not in photo_ids:
                album.primary = photo_ids[0]
            album.date_update = self.tick()
            self.account.touch()

    def add_to_album(self, album_id, photo_id):
        with self.lock:
            album = self._album(album_id)
            self._photo(photo_id)
            if photo_id not in album.photo_ids:
                album.photo_ids.append(photo_id)
                album.date_update = self.tick()
                self.account.touch()

    def remove_from_album(self, album_id, photo_id):
        """Removing the last photo deletes the album, as on Flickr."""
        with self.lock:
            album = self._album(album_id)
            if photo_id in album.photo_ids:
                self._drop_from_album(album, photo_id, self.tick())
                self.account.touch()

    def delete_album(self, album_id):
        with self.lock:
            self._album(album_id)
            self.tick()
            self._forget_album(album_id)
            self.account.touch()

    def set_collections(self, tree):
        """Replace the collection tree.  tree: list of {'title', 'description',
        'sets': [album ids]} or {'title', 'collections': [subtree]}.
        Returns the new collection ids, depth-first (pre-order)."""
        with self.lock:
            new_ids = []

            def build(nodes):
                out = []
                for node in nodes:
                    col = Collection(_collection_id(self._mutation_rng, self.account),
                                     node.get('title', ''), node.get('description', ''))
                    new_ids.append(col.id)
                    if node.get('collections'):
                        col.children = build(node['collections'])
                    else:
                        col.album_ids = [self._album(a).id for a in node.get('sets', [])]
                    out.append(col)
                return out
            self.account.collections = build(tree)
            self.tick()
            self.account.touch()
            return new_ids

    def rename_collection(self, collection_id, title):
        with self.lock:
            col = self.account.find_collection(collection_id)
            if col is None:
                raise KeyError('no collection %r' % collection_id)
            col.title = title
            self.tick()
            self.account.touch()

    def move_album(self, album_id, collection_id):
        """The album leaves every collection holding it and joins the collection given (one
        that holds albums, not collections), last."""
        with self.lock:
            self._album(album_id)
            target = self.account.find_collection(collection_id)
            if target is None or target.children:
                raise KeyError('no collection of albums %r' % collection_id)
            for col in self.account.iter_collections():
                if album_id in col.album_ids:
                    col.album_ids.remove(album_id)
            target.album_ids.append(album_id)
            self.tick()
            self.account.touch()

    def delete_collection(self, collection_id):
        """Removes the collection and everything nested in it (albums stay)."""
        with self.lock:
            def prune(nodes):
                kept = [c for c in nodes if c.id != collection_id]
                for c in kept:
                    c.children = prune(c.children)
                return kept
            if self.account.find_collection(collection_id) is None:
                raise KeyError('no collection %r' % collection_id)
            self.account.collections = prune(self.account.collections)
            self.tick()
            self.account.touch()



# ---------------------------------------------------------------------------
# The data export ("Request my Flickr data" at flickr.com/account)
# ---------------------------------------------------------------------------
#
# Where each shape comes from (public readers and samples of real exports):
# * zip names: the metadata zip '<17 digits>_<12 hex>_part1.zip' ('72157706876334384_
#   ff8f2206a90f_part1.zip' on madmode.com 2023, '72157724905358313_3ac1836c2225_part1.zip' in
#   simulot/immich-go #1354); the media zips 'data-download-<n>.zip' (the older naming, in
#   every reader's README) and 'data_<digits>_<hex>_<n>.zip' since about 2025-04
#   (brownphotographic/Flickr2Any-Tool PR #15, "Flickr changed media data file name format";
#   its regex '^data_\d+_[a-f0-9]+_\d+\.zip$').  500 files a media zip (Flickr2Any-Tool #6:
#   "9 export zip files, and each of those zip files has 500 files in it").
# * photo_<id>.json: the keys, their order and their types follow a real file quoted on a blog
#   ("Flickr Exports in Jekyll", photo 2634391576 of flickr.com/photos/boris, 2019) and the
#   readers' types (FlickrRestore's C# Metadata class, a TypeScript PhotoInfo, the
#   flickr-to-smugmug README): counts as strings, 'rotation' an int, dates 'YYYY-MM-DD
#   HH:MM:SS', 'original' the static `_o` URL, 'geo' {latitude, longitude, accuracy} as
#   strings of integer micro-degrees ("49696401"; flickr-unbox: "stored as integers with no
#   decimal point") or [] when none, tags [{tag (raw), user (URL), date_create}], privacy
#   'public' / 'private' / 'friend' / 'family' / 'friend & family' (Flickr2Any-Tool #5),
#   'comment_permissions' 'any flickr member', 'tagging_permissions' 'people you follow',
#   'safety' 'safe'; comments [{id, date, user, comment}] (what Flickr2Any-Tool reads);
#   albums [{id, title}] (what the autobiographer and trove readers read).
# * albums.json: {"albums": [{photo_count, id, url, title, description, view_count, created,
#   last_updated (epoch seconds as strings), cover_photo (a photo page URL), photos: [ids]}]}
#   (flickr-to-smugmug README; immich-go and Flickr2Any read 'albums' -> id/title/photos).
# * what others added (offlickr's readers, 2026, src/offlickr/model.py and ingest/*.py, the
#   keys it reads from real exports): photo_<id>.json 'notes' [{id, user (the author's
#   NSID), x, y, w, h (the 500-pixel frame, as strings), note (the text)}] with 'count_notes',
#   'groups' [{id, name, url}] (also the "Technical Documentation"); galleries.json
#   {"galleries": [{id (the short gallery id), title, description, photo_count, view_count,
#   url, photos: [ids]}]}; groups.json {"groups": [{id, name, url, user_role}]};
#   sets_comments_part001.json a bare list [{photoset_id, comment_id, date, user, comment,
#   url}] (what offlickr's set_comments reader takes, not the documentation's wrapper).
# * account_profile.json, contacts/followers/faves, galleries, group_discussions, the
#   comments and flickrmail parts, account_testimonials: the key names of the "Technical
#   Documentation for Flickr Data Export" (docs of a public reader), 'join_date' as
#   Flickr2Any-Tool reads it, 'faves' the key Flickr2Any-Tool loads from faves_part*.json.
# * media names '<title>_<id>_o.<ext>' for photos, '<title>_<id>.<ext>' for videos
#   (readers' READMEs: "your pics have the following naming convention: {title}_{id}_o.jpg",
#   'sunset_123456_o.jpg'; immich-go's regex '_(\d+)_o\.\w+$'; Flickr2Any-Tool matches
#   '_<id>_' or '_<id>.', so videos carry no '_o'), '<id>_o.<ext>' for an empty title.  How
#   Flickr turns a title into the name is not documented: every example seen is lower case
#   with '_' or '-' between words ('my-photo_12345678_o.jpg', 'sunset-at-the-beach_...' in
#   immich-go's tests), so the fake lower-cases, keeps letters, digits and '-', turns every
#   other run of characters into one '_', strips '_' at both ends and cuts the result to 100
#   UTF-8 bytes (its own choice, documented; a reader must take the id from the name by the
#   rule "the last run of digits before '_o.' or before the extension").
# Known faults of real exports (each a switch of write_export, off by default):
# * empty_albums: every photo_<id>.json has "albums": [] (and "people": [], which the fake
#   always writes: it has no people tags) — immich-go PR #1355, "the albums field in
#   per-photo JSON is always empty in real Flickr exports; ... Flickr's export always
#   produces an empty people field".
# * merge_friend_family: friends-only and family-only photos are both written as
#   "friend & family" (Flickr2Any-Tool #5).
# * drop_zip=N: media zip number N (1-based) is missing from the export, as in
#   Flickr2Any-Tool #6 (5,463 photos, 9 zips of 500).

# Shapes of real exports (each a name in `shapes`, off by default; 'real' turns on all), as
# readers that ran on real exports describe them:
# * 'untitled-secret': an untitled photo is '<id>_<originalsecret>_o.<ext>' (10 hex digits
#   after the id) -- antimega/memento-mori, memento_mori/flickr.py ("measured against the real
#   export": "untitled photos: <id>_<10-hex-secret>_o.<ext>").
# * 'no-extension': some titled photos are '<slug>_<id>_o' with no extension -- memento-mori
#   ("also 26 legacy files with no ext").
# * 'upper-case': '.JPG' and '_O' -- timswett/flickr-unbox, test_data/MANIFEST.md (cases 14, 16).
# * 'video-names': an untitled video (and every other one) is 'video_<id>.<ext>' --
#   flickr-unbox MANIFEST.md (cases 2, 15); titled ones '<slug>_<id>.<ext>' (memento-mori).
# * 'ambiguous': of the untitled photos, one in four has a secret of digits only,
#   '<id>_<digits>_o.<ext>' (flickr-unbox case 8: resolved by which run is a known photo), and
#   the first one is named '<id>_<another photo's id>_o.<ext>' (case 17: fits two photos).
# * 'non-ascii': some slugs begin 'café-au-lait-' -- flickr-unbox case 19.
# * 'geo-list': 'geo' is a list of one object, [{"latitude": "51561666", ...}] --
#   memento-mori (_parse_geo); the object of the 2018 export (Boris Mann) stays the default.
# * 'not-in-album': albums.json ends with Flickr's synthetic "not in an album 1", "not in an
#   album 2"... entries, 500 photos each, holding the photos of no album -- memento-mori
#   (load_albums skips them).
# * 'zero-in-album': "0" among an album's photos -- maizy/flickr-archive-extractor
#   (flickr_archive_extractor.py: "if pid == '0':  # wrong photos ids").
# * 'metadata-parts': the photo_<id>.json files spread over '<digits>_<hex>_part1.zip',
#   '_part2.zip' (and '_part3.zip' past 1,000 photos) -- flickr-unbox, merge_photoinfo.py
#   (the per-photo JSON "extracted into ... <album-id>_part2/, ..._part3/").
# * 'account-shapes': faves under "favorites" (the "Technical Documentation for Flickr Data
#   Export") and followers as a bare list of records (issue 40 of flickrmirrorer: "a bare
#   list, or an object holding it").
# missing_media=share: that share of the media files is not in any zip (brownphotographic/
# Flickr2Any-Tool #6: 4,500 files for 5,463 photos; #10 asks for a completeness check); the
# manifest names them in 'missing_media'.
EXPORT_SHAPES = ('untitled-secret', 'no-extension', 'upper-case', 'video-names', 'ambiguous',
                 'non-ascii', 'geo-list', 'not-in-album', 'zero-in-album', 'metadata-parts',
                 'account-shapes')
NOT_IN_ALBUM_SIZE = 500


def export_shapes(shapes):
    """The set of shapes asked for ('real': all of them); an unknown name is an error."""
    shapes = {shapes} if isinstance(shapes, str) else set(shapes or ())
    if 'real' in shapes:
        shapes = (shapes - {'real'}) | set(EXPORT_SHAPES)
    unknown = shapes - set(EXPORT_SHAPES)
    if unknown:
        raise ValueError('unknown export shapes %s (known: %s)' % (sorted(unknown), ', '.join(EXPORT_SHAPES)))
    return shapes


def _pick(photo_id, what, one_in):
    """A fixed choice of one photo in `one_in` for a shape (the same for the same id)."""
    return int(hashlib.sha1(('%s:%s' % (what, photo_id)).encode()).hexdigest()[:8], 16) % one_in == 0


def _digit_secret(photo_id):
    return '%010d' % (int(hashlib.sha1(('digits:%s' % photo_id).encode()).hexdigest()[:12], 16) % 10 ** 10)


EXPORT_LICENSES = {0: 'All Rights Reserved', 1: 'Attribution-NonCommercial-ShareAlike License',
                   2: 'Attribution-NonCommercial License', 3: 'Attribution-NonCommercial-NoDerivs License',
                   4: 'Attribution License', 5: 'Attribution-ShareAlike License',
                   6: 'Attribution-NoDerivs License', 7: 'No known copyright restrictions',
                   8: 'United States Government Work', 9: 'Public Domain Dedication (CC0)',
                   10: 'Public Domain Mark'}
EXPORT_NAMINGS = ('data', 'data-download')
EXPORT_META_TIME = (2024, 1, 1, 0, 0, 0)         # zip member time of the JSON files
EXPORT_SLUG_BYTES = 100


def export_slug(title):
    """The title part of a media file's name in the export (see the notes above)."""
    slug = re.sub(r'(?:[^\w-]|_)+', '_', title.lower()).strip('_')
    raw = slug.encode('utf-8')[:EXPORT_SLUG_BYTES]
    return raw.decode('utf-8', 'ignore').rstrip('_')


def _double_named(account):
    """(the first untitled photo, another photo's id): the name that fits two photos."""
    order = _export_order(account)
    first = next((p.id for p in order if not p.is_video and not export_slug(p.title)), None)
    return first, next((p.id for p in order if p.id != first), None)


def export_member_name(photo, shapes=frozenset(), double=(None, None)):
    """'<title>_<id>_o.<ext>' (photo) or '<title>_<id>.<ext>' (video); no title: '<id>...';
    in the `shapes` of real exports as the notes above say (`double`: _double_named)."""
    slug = export_slug(photo.title)
    if slug and 'non-ascii' in shapes and _pick(photo.id, 'non-ascii', 4):
        slug = 'café-au-lait-' + slug
    if photo.is_video:
        if 'video-names' in shapes and (not slug or _pick(photo.id, 'video', 2)):
            return 'video_%s.%s' % (photo.id, photo.video_ext)
        return '%s.%s' % ('%s_%s' % (slug, photo.id) if slug else photo.id, photo.video_ext)
    ext, o = photo.originalformat, '_o'
    if not slug and 'untitled-secret' in shapes:
        secret = photo.originalsecret
        if 'ambiguous' in shapes:
            if photo.id == double[0] and double[1]:
                secret = double[1]
            elif _pick(photo.id, 'ambiguous', 4):
                secret = _digit_secret(photo.id)
        stem = '%s_%s' % (photo.id, secret)
    else:
        stem = '%s_%s' % (slug, photo.id) if slug else photo.id
    if slug and 'upper-case' in shapes and _pick(photo.id, 'upper', 4):
        ext, o = ext.upper(), '_O'
    if slug and 'no-extension' in shapes and _pick(photo.id, 'no-ext', 5):
        return stem + o
    return '%s%s.%s' % (stem, o, ext)


def _export_order(account):
    """The account's photos and videos, oldest upload first (the media zips' order)."""
    return [account.photos[pid] for pid in reversed(account.photostream_order())] if account else []


EXPORT_ID_RE = re.compile(r'(\d+)(?:_o)?\.[A-Za-z0-9]+$')


def export_id_of(name):
    """The photo id in a media file's name: the last run of digits before '_o.' or before
    the extension (None if there is none)."""
    m = EXPORT_ID_RE.search(name.rsplit('/', 1)[-1])
    return m.group(1) if m else None


def export_true_bytes(fake, photo):
    """The bytes the export holds: the true original (a video's uploaded file), whatever the
    API's switches refuse (free_account, video_originals, the no_original quirk)."""
    if photo.is_video:
        return video_bytes(fake.seed, photo, 'orig', fake.file_size)
    return original_bytes(fake.seed, photo, fake.file_size)


def _export_ids(fake):
    h = hashlib.sha1(('export:%s:%s' % (fake.seed, fake.account.nsid)).encode()).hexdigest()
    return '72157%012d' % (int(h[:15], 16) % 10 ** 12), h[15:27]


def _zip_time(epoch):
    return time.gmtime(max(int(epoch), 315532800))[:6]       # zip times start in 1980


def _zip_put(zf, name, data, date_time, compress):
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _user_path(account):
    return account.path_alias or account.nsid


def _export_privacy(photo, merge_friend_family):
    if photo.ispublic:
        return 'public'
    if photo.isfriend and photo.isfamily:
        return 'friend & family'
    if photo.isfriend or photo.isfamily:
        if merge_friend_family:
            return 'friend & family'
        return 'friend' if photo.isfriend else 'family'
    return 'private'


def export_photo_json(fake, photo, empty_albums=False, merge_friend_family=False, shapes=frozenset()):
    """The dict written as photo_<id>.json."""
    acct = fake.account
    user = _user_path(acct)
    imported = _fmt_time(photo.dateupload)
    tags = [{'tag': raw, 'user': 'https://www.flickr.com/photos/%s/' % user, 'date_create': imported}
            for raw in photo.tags + photo.machine_tags]
    geo = ({'latitude': str(round(photo.latitude * 1e6)), 'longitude': str(round(photo.longitude * 1e6)),
            'accuracy': '16'} if photo.geotagged else [])
    if geo and 'geo-list' in shapes:
        geo = [geo]
    albums = [] if empty_albums else [{'id': aid, 'title': acct.albums[aid].title}
                                      for aid in acct.albums_of(photo.id)]
    ext = photo.originalformat
    return {
        'id': photo.id, 'name': photo.title, 'description': photo.description,
        'count_views': str(photo.views), 'count_faves': str(photo.faves),
        'count_comments': str(len(photo.comments)), 'date_taken': datetaken_of(photo),
        'count_tags': str(len(tags)), 'count_notes': str(len(photo.notes)),
        'rotation': photo.rotation,
        'date_imported': imported,
        'photopage': 'https://www.flickr.com/photos/%s/%s/' % (user, photo.id),
        'original': 'https://live.staticflickr.com/%s/%s_%s_o.%s' % (photo.server, photo.id,
                                                                    photo.originalsecret, ext),
        'license': EXPORT_LICENSES.get(photo.license, 'All Rights Reserved'),
        'geo': geo, 'groups': [{'id': g.nsid, 'name': g.name, 'url': _group_url(g)}
                               for g in acct.groups_of(photo.id)],
        'albums': albums, 'tags': tags, 'people': [],
        'notes': [{'id': n.id, 'user': n.author, 'x': str(n.x), 'y': str(n.y), 'w': str(n.w),
                   'h': str(n.h), 'note': n.text} for n in photo.notes],
        'privacy': _export_privacy(photo, merge_friend_family),
        'comment_permissions': 'any flickr member', 'tagging_permissions': 'people you follow',
        'safety': 'safe',
        'comments': [{'id': c.id, 'date': _fmt_time(c.datecreate),
                      'user': 'https://www.flickr.com/photos/%s/' % c.author, 'comment': c.text}
                     for c in photo.comments]}


def _group_url(group):
    return 'https://www.flickr.com/groups/%s/' % _group_path(group)


def _export_galleries(acct):
    return [{'id': g.gallery_id, 'title': g.title, 'description': g.description,
             'photo_count': str(len(g.items)), 'view_count': str(g.views),
             'url': 'https://www.flickr.com/photos/%s/galleries/%s/' % (_user_path(acct), g.gallery_id),
             'photos': [pid for pid, _comment in g.items]} for g in acct.galleries.values()]


def _export_set_comments(acct):
    user = _user_path(acct)
    return [{'photoset_id': album.id, 'comment_id': c.id, 'date': _fmt_time(c.datecreate),
             'user': c.author, 'comment': c.text,
             'url': 'https://www.flickr.com/photos/%s/albums/%s/#comment%s'
                    % (user, album.id, c.id.rsplit('-', 1)[-1])}
            for album in acct.albums.values() for c in album.comment_list]


def _export_metadata_files(fake, empty_albums, merge_friend_family, shapes=frozenset(),
                           galleries=False):
    """[(name, dict)] of the metadata zip, in the order written."""
    acct = fake.account
    user = _user_path(acct)
    people = lambda o: 'https://www.flickr.com/people/%s/' % o.nsid      # noqa: E731
    first = min((p.dateupload for p in acct.photos.values()), default=START_EPOCH)
    albums = []
    for album in acct.albums.values():
        albums.append({
            'photo_count': str(len(album.photo_ids)), 'id': album.id,
            'url': 'https://www.flickr.com/photos/%s/albums/%s' % (user, album.id),
            'title': album.title, 'description': album.description,
            'view_count': str(album.views), 'created': str(album.date_create),
            'last_updated': str(album.date_update),
            'cover_photo': 'https://www.flickr.com/photos/%s/%s' % (user, album.primary),
            'photos': list(album.photo_ids)})
    if 'zero-in-album' in shapes and albums:
        albums[0]['photos'].insert(len(albums[0]['photos']) // 2, '0')
    if 'not-in-album' in shapes:
        in_albums = {pid for album in acct.albums.values() for pid in album.photo_ids}
        alone = [p.id for p in _export_order(acct) if p.id not in in_albums]
        for n, start in enumerate(range(0, len(alone), NOT_IN_ALBUM_SIZE), 1):
            chunk = alone[start:start + NOT_IN_ALBUM_SIZE]
            albums.append({'photo_count': str(len(chunk)), 'id': '72157%012d' % (999999000000 + n),
                           'url': 'https://www.flickr.com/photos/%s/albums/%d' % (user, 72157999999000000 + n),
                           'title': 'not in an album %d' % n, 'description': '', 'view_count': '0',
                           'created': str(first), 'last_updated': str(first),
                           'cover_photo': 'https://www.flickr.com/photos/%s/%s' % (user, chunk[0]),
                           'photos': chunk})
    faves = [{'photo_id': ph.id, 'photo_url': 'https://www.flickr.com/photos/%s/%s/' % (ph.owner, ph.id),
              'favedate': _fmt_time(when)}
             for ph, when in sorted(acct.favorites, key=lambda f: f[1], reverse=True)]
    followers = {o.username: people(o) for o in acct.others[:3]}
    if 'account-shapes' in shapes:
        faves_file = {'favorites': faves}
        followers_file = [{'screen_name': name, 'profile_url': url} for name, url in followers.items()]
    else:
        faves_file, followers_file = {'faves': faves}, {'followers': followers}
    files = [
        ('account_profile.json', {
            'real_name': acct.realname, 'join_date': time.strftime('%Y-%m-%d', time.gmtime(first)),
            'description': 'Emulated account', 'website': '', 'hometown': acct.location,
            'city': acct.location.split(',')[0], 'country': acct.location.rsplit(', ', 1)[-1],
            'email': '%s@example.invalid' % acct.username,
            'profile_url': 'https://www.flickr.com/people/%s/' % user, 'nsid': acct.nsid,
            'screen_name': acct.username, 'is_pro': not fake.faults.free_account}),
        ('account_testimonials.json', {'testimonials_given': [], 'testimonials_received': []}),
        ('albums.json', {'albums': albums}),
        ('contacts_part001.json', {'contacts': {o.username: people(o) for o in acct.others}}),
        ('faves_part001.json', faves_file),
        ('followers_part001.json', followers_file),
        ('galleries.json', {'galleries': _export_galleries(acct) if galleries else []}),
        ('group_discussions.json', {'group_discussions': []}),
        ('groups.json', {'groups': [{'id': g.nsid, 'name': g.name, 'url': _group_url(g),
                                     'user_role': 'admin' if g.admin else 'member'}
                                    for g in acct.groups.values()]}),
        ('photos_comments_part001.json', {'comments': []}),
        ('received_flickrmail_part001.json', {'flickrmail': []}),
        ('sent_flickrmail_part001.json', {'flickrmail': []}),
        ('sets_comments_part001.json', _export_set_comments(acct)),
    ]
    for pid in reversed(acct.photostream_order()):
        files.append(('photo_%s.json' % pid, export_photo_json(
            fake, acct.photos[pid], empty_albums, merge_friend_family, shapes)))
    return files


def write_export(fake, directory, files_per_zip=500, naming='data', empty_albums=False,
                 merge_friend_family=False, drop_zip=None, shapes=(), missing_media=0,
                 galleries=False):
    """Write the account's data export into `directory` (created if needed); see the notes
    above.  Returns a manifest: {'dir', 'metadata_zip', 'media_zips' (written, in order),
    'missing_zips' (names of dropped zips), 'missing_media' (ids whose file was left out),
    'metadata_zips' (every metadata part), 'files': {photo id: [zip name, member name]}}.
    The same account state and arguments give the same zips byte for byte."""
    import os
    if naming not in EXPORT_NAMINGS:
        raise ValueError('naming must be one of %s' % (EXPORT_NAMINGS,))
    files_per_zip = int(files_per_zip)
    if files_per_zip < 1:
        raise ValueError('files_per_zip must be at least 1')
    drop_zip = None if drop_zip in (None, '', 0) else int(drop_zip)
    shapes = export_shapes(shapes)
    missing_media = float(missing_media or 0)
    os.makedirs(directory, exist_ok=True)
    with fake.lock:
        acct = fake.account
        digits, hexpart = _export_ids(fake)
        meta_name = '%s_%s_part1.zip' % (digits, hexpart)
        files = _export_metadata_files(fake, empty_albums, merge_friend_family, shapes, galleries)
        photo_files = [f for f in files if f[0].startswith('photo_')]
        parts = [[f for f in files if not f[0].startswith('photo_')] + photo_files]
        if 'metadata-parts' in shapes:
            count = 2 + (len(photo_files) > 1000)
            size = -(-len(photo_files) // count)
            parts = [[f for f in files if not f[0].startswith('photo_')] + photo_files[:size]] + [
                photo_files[i:i + size] for i in range(size, len(photo_files), size)]
        manifest = {'dir': str(directory), 'metadata_zip': meta_name, 'metadata_zips': [],
                    'media_zips': [], 'missing_zips': [], 'missing_media': [], 'files': {}}
        for n, part in enumerate(parts, 1):
            part_name = '%s_%s_part%d.zip' % (digits, hexpart, n)
            manifest['metadata_zips'].append(part_name)
            with zipfile.ZipFile(os.path.join(directory, part_name), 'w') as zf:
                for name, data in part:
                    # a lone surrogate (a title cut inside an emoji) as its JSON escape, as Flickr's does
                    text = re.sub('[\ud800-\udfff]', lambda m: '\\u%04x' % ord(m.group()),
                                  json.dumps(data, indent='\t', ensure_ascii=False))
                    _zip_put(zf, name, text.encode('utf-8'), EXPORT_META_TIME, True)
        order = _export_order(acct)
        double = _double_named(acct)
        if missing_media:
            left_out = max(1, round(len(order) * missing_media))
            manifest['missing_media'] = [ph.id for ph in sorted(
                order, key=lambda ph: hashlib.sha1(('missing:%s' % ph.id).encode()).hexdigest())[:left_out]]
            gone = set(manifest['missing_media'])
            order = [ph for ph in order if ph.id not in gone]
        chunks = [order[i:i + files_per_zip] for i in range(0, len(order), files_per_zip)]
        for n, chunk in enumerate(chunks, 1):
            zname = ('data_%s_%s_%d.zip' % (digits, hexpart, n) if naming == 'data'
                     else 'data-download-%d.zip' % n)
            for ph in chunk:
                manifest['files'][ph.id] = [zname, export_member_name(ph, shapes, double)]
            if n == drop_zip:
                manifest['missing_zips'].append(zname)
                continue
            manifest['media_zips'].append(zname)
            with zipfile.ZipFile(os.path.join(directory, zname), 'w') as zf:
                for ph in chunk:
                    _zip_put(zf, export_member_name(ph, shapes, double), export_true_bytes(fake, ph),
                             _zip_time(ph.dateupload), False)
    return manifest


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def build_parser():
    ap = argparse.ArgumentParser(description='Serve a fake Flickr API on 127.0.0.1.')
    ap.add_argument('--photos', type=int, default=2000, help='photos in the account (default 2000)')
    ap.add_argument('--videos', type=int, default=50, help='videos in the account (default 50)')
    ap.add_argument('--albums', type=int, default=40, help='albums (photosets; default 40)')
    ap.add_argument('--collections', type=int, default=5,
                    help='top-level collections (default 5; the first holds nested ones)')
    ap.add_argument('--seed', type=int, default=1,
                    help='seed of the generated account and of every file\'s bytes (default 1)')
    ap.add_argument('--file-size', type=int, default=200_000,
                    help='typical size in bytes of a photo original (default 200000; videos larger)')
    ap.add_argument('--latency-ms', type=float, default=0,
                    help='milliseconds added to every REST call (default 0)')
    ap.add_argument('--file-latency-ms', type=float, default=0,
                    help='milliseconds added to every file request (default 0)')
    ap.add_argument('--bandwidth', type=int, default=0, help='bytes/s per response, 0 = unlimited')
    ap.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    ap.add_argument('--port', type=int, default=0, help='port to listen on (default 0: any free one)')
    ap.add_argument('--api-key', default='fake-api-key', help='the valid API key (default fake-api-key)')
    ap.add_argument('--api-secret', default='fake-api-secret',
                    help='its secret (default fake-api-secret)')
    ap.add_argument('--no-hostile-names', action='store_true',
                    help="plain titles ('Photo 1', 'Album 1') instead of the hostile ones ('..', '2019/2020', ...)")
    ap.add_argument('--path-alias', metavar='NAME',
                    help="the account's path alias (its URL name; getSizes and photo pages use it)")
    ap.add_argument('--issue-token', action='store_true',
                    help='also print FLICKR_OAUTH_TOKEN / FLICKR_OAUTH_TOKEN_SECRET')
    unkind = ap.add_argument_group('the unkind Flickr (see the module docstring)')
    unkind.add_argument('--realistic', action='store_true',
                        help='the REALISTIC rates (module docstring) of the switches below, '
                             'and --quirks')
    unkind.add_argument('--quirks', action='store_true',
                        help='photos without an Original or originalformat, zero datetaken')
    unkind.add_argument('--video-originals', choices=VIDEO_ORIGINAL_MODES,
                        help="'offered' (per video), '404' or 'login': how a video's play/orig URL answers")
    unkind.add_argument('--short-page-rate', type=float,
                        help='probability that a listing page (not the last) comes back short')
    unkind.add_argument('--fail-201-rate', type=float,
                        help='probability of a stat fail code 201 answer per REST call')
    unkind.add_argument('--placeholder-rate', type=float,
                        help="probability that a photo's _o URL redirects to photo_unavailable.gif")
    unkind.add_argument('--file-429-rate', type=float,
                        help='probability that a file request answers 429')
    unkind.add_argument('--file-retry-after', choices=RETRY_AFTER_MODES,
                        help="whether a file 429 carries Retry-After: 'always', 'never' or 'mixed'")
    unkind.add_argument('--retry-after', type=int,
                        help='seconds of the Retry-After header of 429 answers')
    unkind.add_argument('--hourly-limit', type=int,
                        help='REST calls per rolling hour per API key (0: none)')
    unkind.add_argument('--fault-seed', type=int,
                        help='seed of every random fault decision')
    unkind.add_argument('--free-account', action='store_true', default=None,
                        help='a free account: ispro 0, own photos over 1024 px offered up to '
                             'Large (1024) only, their larger sizes and _o answer 403')
    unkind.add_argument('--cdn-403-rate', type=float,
                        help="probability per photo _o request of a burst of 403 Forbidden")
    unkind.add_argument('--cdn-403-burst', type=int,
                        help='longest CDN 403 burst, in _o requests (default 3)')
    unkind.add_argument('--listing-path-alias', metavar='ALIAS',
                        help="listings send this pathalias (a stale one): every play address built from them "
                             "answers 404, getSizes lists the working ones")
    export = ap.add_argument_group('the data export (see the module docstring)')
    export.add_argument('--write-export', metavar='DIR',
                        help='write the account\'s data export ("Request my Flickr data") into '
                             'DIR, print its manifest as JSON and exit (does not serve)')
    export.add_argument('--export-files-per-zip', type=int, default=500,
                        help='files per media zip (default 500)')
    export.add_argument('--export-naming', choices=EXPORT_NAMINGS, default='data',
                        help="media zip names: 'data' (data_<digits>_<hex>_<n>.zip, the "
                             "current one) or 'data-download' (data-download-<n>.zip)")
    export.add_argument('--export-empty-albums', action='store_true',
                        help='fault: every photo_<id>.json has "albums": []')
    export.add_argument('--export-merge-friend-family', action='store_true',
                        help='fault: friends-only and family-only photos exported as '
                             '"friend & family"')
    export.add_argument('--export-drop-zip', type=int, metavar='N',
                        help='fault: media zip number N (1-based) is missing')
    export.add_argument('--export-shape', action='append', default=[], metavar='SHAPE',
                        choices=EXPORT_SHAPES + ('real',),
                        help='a shape of real exports (repeatable; "real": all of them): %s'
                             % ', '.join(EXPORT_SHAPES))
    export.add_argument('--export-missing-media', type=float, default=0, metavar='SHARE',
                        help='fault: this share (0..1) of the media files is in no zip')
    export.add_argument('--export-galleries', action='store_true',
                        help="galleries.json lists the account's galleries (default: none)")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    fake = FakeFlickr(seed=args.seed, photos=args.photos, videos=args.videos, albums=args.albums,
                      collections=args.collections, file_size=args.file_size,
                      hostile_names=not args.no_hostile_names, api_key=args.api_key,
                      api_secret=args.api_secret, host=args.host, port=args.port,
                      quirks=args.quirks or args.realistic, path_alias=args.path_alias)
    fake.faults.api_latency = args.latency_ms / 1000
    fake.faults.file_latency = args.file_latency_ms / 1000
    fake.faults.bandwidth = args.bandwidth
    switches = {name: getattr(args, name) for name in (
        'video_originals', 'short_page_rate', 'fail_201_rate', 'placeholder_rate',
        'file_429_rate', 'file_retry_after', 'retry_after', 'hourly_limit', 'fault_seed',
        'free_account', 'cdn_403_rate', 'cdn_403_burst', 'listing_path_alias')
        if getattr(args, name) is not None}
    fake.faults.update(realistic=args.realistic, **switches)
    if args.write_export:
        manifest = fake.write_export(args.write_export, args.export_files_per_zip,
                                     args.export_naming, args.export_empty_albums,
                                     args.export_merge_friend_family, args.export_drop_zip,
                                     args.export_shape, args.export_missing_media,
                                     args.export_galleries)
        print(json.dumps({k: v for k, v in manifest.items() if k != 'files'}), flush=True)
        return 0
    fake.start()
    lines = ['FLICKR_API_BASE=%s' % fake.base_url, 'FLICKR_API_KEY=%s' % fake.api_key,
             'FLICKR_API_SECRET=%s' % fake.api_secret, 'FLICKR_USER_NSID=%s' % fake.user_nsid]
    if args.issue_token:
        token, secret = fake.issue_token()
        lines += ['FLICKR_OAUTH_TOKEN=%s' % token, 'FLICKR_OAUTH_TOKEN_SECRET=%s' % secret]
    print('\n'.join(lines), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(0.5)
    fake.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
