"""Tests of fakeflickr: REST shapes against the recorded samples, OAuth, paging,
files, mutations, faults, the control endpoint, the CLI and a real flickrapi login."""

import json
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from requests_oauthlib import OAuth1

import fakeflickr

SAMPLES = Path(__file__).resolve().parent / 'testdata' / 'flickr-api-samples'
ALL_EXTRAS = ('description,license,date_upload,date_taken,owner_name,icon_server,original_format,'
              'last_update,geo,tags,machine_tags,o_dims,views,media,path_alias,count_comments,'
              'count_faves,url_sq,url_q,url_t,url_s,url_n,url_m,url_z,url_c,url_l,url_h,url_k,url_o')
SAMPLE_EXTRAS = ('description,license,date_upload,date_taken,owner_name,icon_server,'
                 'original_format,last_update,geo,tags,machine_tags,views,media,path_alias,'
                 'url_sq,url_q,url_t,url_s,url_n,url_m,url_z,url_c,url_l,url_h,url_k,url_o')


def sample(name):
    return json.loads((SAMPLES / name).read_text())


def wait_until(condition, what, timeout=30):
    """Poll `condition` (something the fake shows) instead of sleeping a guessed time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'timed out waiting for ' + what
        time.sleep(0.005)


# -- fixtures & helpers -------------------------------------------------------

@pytest.fixture(scope='module')
def fake():
    with fakeflickr.FakeFlickr(seed=1, photos=40, videos=6, albums=6, collections=3,
                               file_size=20_000, hostile_names=True) as f:
        yield f


@pytest.fixture(scope='module')
def token(fake):
    return fake.issue_token()


@pytest.fixture
def fresh():
    with fakeflickr.FakeFlickr(seed=7, photos=14, videos=4, albums=3, collections=2,
                               file_size=4_000) as f:
        yield f


@pytest.fixture(autouse=True)
def _no_faults(request):
    yield
    if 'fake' in request.fixturenames:
        f = request.getfixturevalue('fake')
        f.faults.reset()


SESSION = requests.Session()


def post(fake, token, method, session=SESSION, **params):
    """A signed POST like flickrapi's; returns the requests.Response."""
    params.setdefault('format', 'json')
    params.setdefault('nojsoncallback', '1')
    auth = OAuth1(fake.api_key, fake.api_secret, token[0], token[1]) if token else None
    return session.post(fake.base_url + '/services/rest/', data=dict(params, method=method),
                        auth=auth, timeout=10)


def api(fake, token, method, **params):
    r = post(fake, token, method, **params)
    assert r.status_code == 200, r.text
    return r.json()


def ok(fake, token, method, **params):
    data = api(fake, token, method, **params)
    assert data['stat'] == 'ok', data
    return data


def walk_stream(fake, token, per_page, **params):
    ids, page = [], 1
    while True:
        data = ok(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=per_page,
                  page=page, **params)['photos']
        ids += [p['id'] for p in data['photo']]
        if page >= data['pages']:
            return ids, data
        page += 1


def pick(fake, pred):
    return next(p for p in fake.account.photos.values() if pred(p))


def jpeg_valid(b):
    """Walk the JPEG marker segments up to SOS; SOI first, EOI last."""
    assert b[:2] == b'\xff\xd8' and b[-2:] == b'\xff\xd9'
    i, markers = 2, []
    while True:
        assert b[i] == 0xff, 'bad marker at %d' % i
        marker = b[i + 1]
        markers.append(marker)
        if marker == 0xda:
            break
        i += 2 + int.from_bytes(b[i + 2:i + 4], 'big')
    assert 0xc0 in markers and 0xdb in markers and 0xc4 in markers
    return markers


def png_valid(b):
    assert b[:8] == b'\x89PNG\r\n\x1a\n'
    i, kinds = 8, []
    while i < len(b):
        n = int.from_bytes(b[i:i + 4], 'big')
        kind, data = b[i + 4:i + 8], b[i + 8:i + 8 + n]
        crc = int.from_bytes(b[i + 8 + n:i + 12 + n], 'big')
        assert zlib.crc32(kind + data) & 0xffffffff == crc, kind
        kinds.append(kind)
        if kind == b'IDAT':
            zlib.decompress(data)
        i += 12 + n
    assert kinds[0] == b'IHDR' and kinds[-1] == b'IEND' and b'IDAT' in kinds
    return kinds


def gif_valid(b):
    assert b[:6] in (b'GIF87a', b'GIF89a')

    def skip_blocks(i):
        while b[i]:
            i += b[i] + 1
        return i + 1
    flags = b[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while True:
        if b[i] == 0x3b:
            assert i == len(b) - 1
            return True
        if b[i] == 0x21:
            i = skip_blocks(i + 2)
        elif b[i] == 0x2c:
            lflags = b[i + 9]
            i += 10 + (3 * 2 ** ((lflags & 7) + 1) if lflags & 0x80 else 0)
            i = skip_blocks(i + 1)
        else:
            raise AssertionError('bad GIF block %r at %d' % (b[i], i))


# -- the generated account ------------------------------------------------------

def test_generated_account_has_the_required_variety(fake):
    acct = fake.account
    photos = list(acct.photos.values())
    assert len(photos) == 46
    assert {p.originalformat for p in photos if not p.is_video} == {'jpg', 'png', 'gif'}
    videos = [p for p in photos if p.is_video]
    assert len(videos) == 6 and {v.video_ext for v in videos} == {'mp4', 'mov'}
    assert all(v.originalformat == 'jpg' for v in videos)
    assert any(not v.video_original_available for v in videos)
    assert any(v.video_original_available for v in videos)
    assert any(p.ispublic for p in photos) and any(
        not (p.ispublic or p.isfriend or p.isfamily) for p in photos)
    assert any(p.geotagged for p in photos) and any(not p.geotagged for p in photos)
    assert any(p.comments for p in photos)
    assert any(len(acct.albums_of(p.id)) >= 2 for p in photos)
    assert any(not acct.albums_of(p.id) for p in photos)
    assert len(acct.albums) == 6
    assert all(a.photo_ids and a.primary in a.photo_ids for a in acct.albums.values())
    ordered = [a for a in acct.albums.values()
               if a.photo_ids != sorted(a.photo_ids, key=lambda i: acct.photos[i].dateupload)]
    assert ordered, 'some album should have a custom order'
    cols = list(acct.iter_collections())
    assert any(c.children for c in cols), 'nested collections'
    assert any(not c.children and not c.album_ids for c in cols), 'an empty collection'
    titles = [a.title for a in acct.albums.values()] + [c.title for c in cols]
    for hostile in ('Ærøskøbing – 夏 🌊', '2019/2020', '..', '../../etc', '.hidden', '',
                    'a\x00b', 'Beach', 'beach'):
        assert hostile in titles, hostile
    assert any(len(t.encode()) == 300 for t in titles)
    assert len({p.title for p in photos} & set(fakeflickr.HOSTILE_TITLES)) >= 5
    album_titles = [a.title for a in acct.albums.values()]
    assert len(album_titles) != len(set(album_titles)), 'two albums with the same title'
    assert 'Beach' in album_titles and 'beach' in album_titles and '..' in album_titles


def test_ids_have_flickr_formats(fake):
    acct = fake.account
    assert re.fullmatch(r'\d{8,9}@N0\d', acct.nsid)
    assert all(re.fullmatch(r'\d{10,11}', pid) for pid in acct.photos)
    assert all(re.fullmatch(r'72157\d{12}', aid) for aid in acct.albums)
    assert all(re.fullmatch(r'\d+-72157\d{12}', c.id) for c in acct.iter_collections())
    assert all(re.fullmatch(r'[0-9a-f]{10}', p.secret) and re.fullmatch(r'[0-9a-f]{10}', p.originalsecret)
               for p in acct.photos.values())


def test_generation_is_deterministic_and_plain_names():
    a = fakeflickr.generate_account(seed=3, photos=30, videos=3, albums=4, collections=2)
    b = fakeflickr.generate_account(seed=3, photos=30, videos=3, albums=4, collections=2)
    c = fakeflickr.generate_account(seed=4, photos=30, videos=3, albums=4, collections=2)
    key = lambda acct: [(p.id, p.title, p.secret, p.dateupload, p.lastupdate, p.tags)
                        for p in acct.photos.values()] + [(x.id, x.title, x.photo_ids)
                                                          for x in acct.albums.values()]
    assert key(a) == key(b) and key(a) != key(c)
    plain = fakeflickr.generate_account(seed=3, photos=30, videos=3, albums=4, collections=2,
                                        hostile_names=False)
    assert [x.title for x in plain.albums.values()] == ['Album 1', 'Album 2', 'Album 3', 'Album 4']
    assert all(re.fullmatch(r'(Photo|Video) \d+', p.title) for p in plain.photos.values())
    assert all(re.fullmatch(r'Collection \d+', c.title) for c in plain.iter_collections())


@pytest.mark.slow
def test_a_large_account_is_generated_whole():
    acct = fakeflickr.generate_account(seed=1, photos=100_000, videos=1000, albums=40, collections=5)
    assert len(acct.photos) == 101_000
    assert len(acct.photostream_order()) == 101_000


def test_photostream_order_is_upload_date_then_id_descending(fake):
    acct = fake.account
    order = acct.photostream_order()
    keys = [(acct.photos[i].dateupload, int(i)) for i in order]
    assert keys == sorted(keys, reverse=True) and len(set(order)) == len(order)


# -- REST shapes against the samples -------------------------------------------

def check_types(ours, theirs, keys):
    for k in keys:
        if theirs.get(k) is None or k in ('latitude', 'longitude'):
            continue
        assert type(ours[k]) is type(theirs[k]), (k, ours[k], theirs[k])


def test_people_getphotos_shape_matches_sample(fake, token):
    big = pick(fake, lambda p: p.geotagged and max(p.width, p.height) >= 2048 and not p.is_video)
    ids, _ = walk_stream(fake, token, 500)
    data = ok(fake, token, 'flickr.people.getPhotos', user_id='me', extras=SAMPLE_EXTRAS,
              per_page=500)['photos']
    ref = sample('flickr.people.getPhotos.json')['photos']
    assert set(data) == set(ref)
    for k in ('page', 'pages', 'perpage', 'total'):
        assert type(data[k]) is type(ref[k]), k
    ours = next(p for p in data['photo'] if p['id'] == big.id)
    theirs = ref['photo'][0]
    assert set(ours) == set(theirs) | {'datetakenunknown'}
    check_types(ours, theirs, theirs)
    assert isinstance(ours['latitude'], float) and ours['description'] == {'_content': big.description}
    assert ours['title'] == big.title and isinstance(ours['title'], str)
    flat = next(p for p in data['photo'] if not fake.account.photos[p['id']].geotagged)
    assert (flat['latitude'], flat['longitude'], flat['accuracy'], flat['context']) == (0, 0, 0, 0)
    assert 'place_id' not in flat
    media = ok(fake, token, 'flickr.people.getPhotos', user_id='me', extras='media')['photos']
    assert set(media['photo'][0]) == set(sample('flickr.people.getPhotos.media.json')['photos']['photo'][0])
    assert {p['media'] for p in media['photo']} == {'photo', 'video'}


def test_getnotinset_and_recentlyupdated_shapes(fake, token):
    ref = sample('flickr.photos.getNotInSet.json')['photos']
    data = ok(fake, token, 'flickr.photos.getNotInSet', extras=SAMPLE_EXTRAS)['photos']
    assert set(data) == set(ref)
    assert [p['id'] for p in data['photo']] == fake.account.not_in_set()
    assert set(data['photo'][0]) - {'datetakenunknown', 'place_id', 'woeid', 'geo_is_family',
                                    'geo_is_friend', 'geo_is_contact', 'geo_is_public', 'url_h',
                                    'url_k', 'height_h', 'width_h', 'height_k', 'width_k',
                                    'url_c', 'height_c', 'width_c', 'url_l', 'height_l',
                                    'width_l'} <= set(ref['photo'][0])
    rec = ok(fake, token, 'flickr.photos.recentlyUpdated', min_date='0', extras='last_update',
             per_page=500)['photos']
    assert set(rec) == set(sample('flickr.photos.recentlyUpdated.json')['photos'])
    stamps = [(int(p['lastupdate']), int(p['id'])) for p in rec['photo']]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 46
    newest = max(p.lastupdate for p in fake.account.photos.values())
    only = ok(fake, token, 'flickr.photos.recentlyUpdated', min_date=str(newest))['photos']
    assert int(only['total']) >= 1 and all(
        fake.account.photos[p['id']].lastupdate >= newest for p in only['photo'])


def test_photos_getinfo_shape(fake, token):
    geo = pick(fake, lambda p: p.geotagged and not p.is_video and p.tags)
    info = ok(fake, token, 'flickr.photos.getInfo', photo_id=geo.id)['photo']
    ref = sample('flickr.photos.getInfo.json')['photo']
    assert set(ref) <= set(info)
    check_types(info, ref, ['id', 'secret', 'server', 'farm', 'dateuploaded', 'license', 'views',
                            'isfavorite', 'rotation', 'originalsecret', 'originalformat'])
    assert info['title'] == {'_content': geo.title}
    assert set(ref['dates']) <= set(info['dates']) and info['dates']['lastupdate'] == str(geo.lastupdate)
    assert set(ref['tags']['tag'][0]) <= set(info['tags']['tag'][0])
    assert set(ref['location']) <= set(info['location'])
    assert info['urls']['url'][0] == {
        'type': 'photopage',
        '_content': 'https://www.flickr.com/photos/%s/%s/' % (fake.user_nsid, geo.id)}
    assert info['comments'] == {'_content': str(len(geo.comments))}
    video = pick(fake, lambda p: p.is_video)
    vinfo = ok(fake, token, 'flickr.photos.getInfo', photo_id=video.id)['photo']
    vref = sample('flickr.photos.getInfo.video.json')['photo']
    assert set(vref) <= set(vinfo) and vinfo['media'] == 'video'
    assert set(vinfo['video']) == set(vref['video'])
    check_types(vinfo['video'], vref['video'], vref['video'])
    assert vinfo['originalformat'] == 'jpg'


def test_getsizes_photo_and_video(fake, token):
    ph = pick(fake, lambda p: not p.is_video and max(p.width, p.height) >= 2048)
    sizes = ok(fake, token, 'flickr.photos.getSizes', photo_id=ph.id)['sizes']
    ref = sample('flickr.photos.getSizes.json')['sizes']
    assert set(sizes) == set(ref) and sizes['size']
    assert all(set(s) == set(ref['size'][0]) for s in sizes['size'])
    by_label = {s['label']: s for s in sizes['size']}
    ref_labels = [s['label'] for s in ref['size']]
    assert [s['label'] for s in sizes['size'] if s['label'] in ref_labels] == ref_labels
    for s in ref['size']:
        check_types(by_label[s['label']], s, ['width', 'height'])
    assert by_label['Original']['source'].endswith('/%s_%s_o.%s' % (ph.id, ph.originalsecret, ph.originalformat))
    for available in (True, False):
        video = pick(fake, lambda p: p.is_video and p.video_original_available is available)
        vs = ok(fake, token, 'flickr.photos.getSizes', photo_id=video.id)['sizes']['size']
        labels = {s['label']: s for s in vs}
        assert labels['Original']['media'] == 'photo'
        assert labels['Site MP4']['media'] == 'video' and 'Mobile MP4' in labels
        assert ('Video Original' in labels) is available
        if available:
            assert labels['Video Original']['source'] == '%s/photos/%s/%s/play/orig/%s/' % (
                fake.base_url, fake.user_nsid, video.id, video.originalsecret)


def test_photosets_shapes(fake, token):
    lst = ok(fake, token, 'flickr.photosets.getList')['photosets']
    ref = sample('flickr.photosets.getList.json')['photosets']
    assert set(lst) == set(ref)
    assert [s['id'] for s in lst['photoset']] == fake.account.album_order()
    assert (lst['page'], lst['pages'], lst['perpage'], lst['total']) == (1, 1, 6, 6)
    for s in lst['photoset']:
        assert set(s) == set(ref['photoset'][0])
        check_types(s, ref['photoset'][0], ref['photoset'][0])
        assert s['title'] == {'_content': fake.account.albums[s['id']].title}
    paged = ok(fake, token, 'flickr.photosets.getList', per_page=4, page=2,
               primary_photo_extras='url_o,original_format')['photosets']
    assert (paged['page'], paged['pages'], paged['perpage']) == (2, 2, 4)
    assert len(paged['photoset']) == 2 and 'url_o' in paged['photoset'][0]['primary_photo_extras']
    album = fake.account.albums[fake.account.album_order()[0]]
    info = ok(fake, token, 'flickr.photosets.getInfo', photoset_id=album.id)['photoset']
    iref = sample('flickr.photosets.getInfo.json')['photoset']
    assert set(info) == set(iref)
    check_types(info, iref, iref)
    plain = ok(fake, token, 'flickr.photosets.getPhotos', photoset_id=album.id)['photoset']
    pref = sample('flickr.photosets.getPhotos.plain.json')['photoset']
    assert set(plain) == set(pref)
    check_types(plain, pref, ['page', 'per_page', 'perpage', 'pages', 'total', 'title', 'id'])
    assert plain['title'] == album.title and plain['total'] == str(len(album.photo_ids))
    assert set(pref['photo'][0]) <= set(plain['photo'][0]) <= set(pref['photo'][0]) | {
        'ispublic', 'isfriend', 'isfamily'}
    assert [p['isprimary'] for p in plain['photo']].count('1') == 1
    rich = ok(fake, token, 'flickr.photosets.getPhotos', photoset_id=album.id,
              extras=SAMPLE_EXTRAS)['photoset']['photo'][0]
    eref = sample('flickr.photosets.getPhotos.json')['photoset']['photo'][0]
    assert set(eref) - {'url_h', 'url_k', 'height_h', 'width_h', 'height_k', 'width_k', 'url_c',
                        'height_c', 'width_c', 'url_l', 'height_l', 'width_l', 'place_id',
                        'woeid', 'geo_is_family', 'geo_is_friend', 'geo_is_contact',
                        'geo_is_public'} <= set(rich)


def test_other_method_shapes(fake, token):
    commented = pick(fake, lambda p: p.comments)
    comments = ok(fake, token, 'flickr.photos.comments.getList', photo_id=commented.id)['comments']
    cref = sample('flickr.photos.comments.getList.json')['comments']
    assert set(comments) == set(cref) and set(cref['comment'][0]) <= set(comments['comment'][0])
    assert [c['_content'] for c in comments['comment']] == [c.text for c in commented.comments]
    quiet = pick(fake, lambda p: not p.comments)
    assert ok(fake, token, 'flickr.photos.comments.getList', photo_id=quiet.id)['comments'] == {
        'photo_id': quiet.id}
    in_sets = pick(fake, lambda p: fake.account.albums_of(p.id))
    ctx = ok(fake, token, 'flickr.photos.getAllContexts', photo_id=in_sets.id)
    sref = sample('flickr.photos.getAllContexts.json')['set'][0]
    assert {s['id'] for s in ctx['set']} == set(fake.account.albums_of(in_sets.id))
    assert set(ctx['set'][0]) == set(sref)
    check_types(ctx['set'][0], sref, sref)
    alone = pick(fake, lambda p: not fake.account.albums_of(p.id) and not fake.account.groups_of(p.id))
    assert ok(fake, token, 'flickr.photos.getAllContexts', photo_id=alone.id) == {'stat': 'ok'}
    jpg = pick(fake, lambda p: p.originalformat == 'jpg' and not p.is_video)
    exif = ok(fake, token, 'flickr.photos.getExif', photo_id=jpg.id)['photo']
    eref = sample('flickr.photos.getExif.json')['photo']
    assert set(exif) == set(eref) and set(eref['exif'][0]) <= set(exif['exif'][0])
    person = ok(fake, token, 'flickr.people.getInfo', user_id=fake.user_nsid)['person']
    assert set(sample('flickr.people.getInfo.json')['person']) <= set(person)
    assert person['photos']['count'] == {'_content': 46}
    login = ok(fake, token, 'flickr.test.login')
    assert login == {'user': {'id': fake.user_nsid, 'username': {'_content': fake.username}},
                     'stat': 'ok'}
    favs = ok(fake, token, 'flickr.favorites.getList', extras='url_o')['photos']
    assert set(favs) == {'page', 'pages', 'perpage', 'total', 'photo'} and favs['photo']
    assert all(f['owner'] != fake.user_nsid for f in favs['photo'])
    r = SESSION.get(next(f['url_o'] for f in favs['photo'] if 'url_o' in f), timeout=10)
    assert r.status_code == 200 and r.content[:2] == b'\xff\xd8'


def test_collections_gettree(fake, token):
    tree = ok(fake, token, 'flickr.collections.getTree')['collections']['collection']
    ref = sample('flickr.collections.getTree.json')['collections']['collection'][0]
    model = fake.account.collections
    assert [c['id'] for c in tree] == [c.id for c in model]

    def walk(nodes, cols):
        for node, col in zip(nodes, cols):
            assert set(ref) - {'set'} <= set(node)
            assert node['title'] == col.title
            if col.children:
                assert 'set' not in node
                walk(node['collection'], col.children)
            elif col.album_ids:
                assert 'collection' not in node
                assert [s['id'] for s in node['set']] == col.album_ids
                assert all(set(s) == set(ref['set'][0]) for s in node['set'])
            else:
                assert 'set' not in node and 'collection' not in node
    walk(tree, model)
    sub = model[0].children[0]
    one = ok(fake, token, 'flickr.collections.getTree', collection_id=sub.id)['collections']
    assert [c['id'] for c in one['collection']] == [sub.id]
    r = SESSION.get(tree[0]['iconlarge'], timeout=10)
    assert r.status_code == 200 and r.headers['Content-Type'] == 'image/gif'


def test_errors_match_samples(fake, token):
    assert api(fake, token, 'flickr.photos.getInfo', photo_id='1') == sample('error.photo_not_found.json')
    assert api(fake, token, 'flickr.photosets.getPhotos', photoset_id='1') == {
        'stat': 'fail', 'code': 1, 'message': 'Photoset not found'}
    assert api(fake, token, 'flickr.nonExistingMethod') == sample('error.method_not_found.json')
    r = SESSION.post(fake.base_url + '/rest/', data={'method': 'flickr.test.login', 'api_key': 'zzz',
                                                      'format': 'json', 'nojsoncallback': 1})
    assert r.json() == sample('error.invalid_api_key.json')
    assert r.headers['Content-Type'].startswith('application/json')
    assert api(fake, token, 'flickr.people.getPhotos', user_id='12@N01')['code'] == 2


def test_xml_and_jsonp_rendering(fake, token):
    r = post(fake, token, 'flickr.auth.oauth.checkToken', format='rest')
    assert r.headers['Content-Type'].startswith('text/xml')
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="ok">')
    rsp = ET.fromstring(r.content)
    assert rsp.findtext('oauth/perms') == 'read' and rsp.findtext('oauth/token') == token[0]
    assert rsp.find('oauth/user').attrib['nsid'] == fake.user_nsid
    err = ET.fromstring(post(fake, token, 'flickr.photos.getInfo', photo_id='1', format='rest').content)
    assert err.attrib['stat'] == 'fail' and err.find('err').attrib == {'code': '1', 'msg': 'Photo not found'}
    # every title (NUL, 300 bytes, unicode) must survive as well-formed XML
    xml = post(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=500,
               extras='description,tags', format='rest').content
    photos = ET.fromstring(xml).find('photos')
    assert photos.attrib['total'] == '46' and len(photos.findall('photo')) == 46
    titles = {p.attrib['id']: p.attrib['title'] for p in photos.findall('photo')}
    assert all(titles[i] == fake.account.photos[i].title.replace('\x00', '') for i in titles)
    sets = ET.fromstring(post(fake, token, 'flickr.photosets.getList', format='rest').content)
    assert len(sets.findall('photosets/photoset')) == 6
    assert sets.find('photosets/photoset/title') is not None
    jsonp = post(fake, token, 'flickr.test.login', nojsoncallback=None)
    assert jsonp.text.startswith('jsonFlickrApi({') and jsonp.text.endswith('})')


# -- what others add: notes, people, favourites, galleries, groups, album comments ---------

def xml_sample(name):
    return ET.parse(SAMPLES / name).getroot()


def xml_api(fake, token, method, **params):
    r = post(fake, token, method, format='rest', **params)
    assert r.status_code == 200, r.text
    rsp = ET.fromstring(r.content)
    assert rsp.attrib['stat'] == 'ok', r.text
    return rsp


def medium_frame(photo):
    """(width, height) of an unturned photo scaled to 500 px on its longest side."""
    w, h = photo.width, photo.height
    return (500, round(500 * h / w)) if w >= h else (round(500 * w / h), 500)


def inside(box, frame):
    x, y, w, h = (int(v) for v in box)
    return x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= frame[0] and y + h <= frame[1]


def test_getinfo_notes_match_the_recorded_answer(fake, token):
    crowded = pick(fake, lambda p: len(p.notes) == 32)
    ref = xml_sample('flickr.photos.getInfo.circa.2025.xml').find('photo/notes')
    notes = xml_api(fake, token, 'flickr.photos.getInfo', photo_id=crowded.id).findall('photo/notes/note')
    assert len(notes) == len(ref.findall('note')) == 32
    assert all(list(n.attrib) == list(ref.find('note').attrib) for n in notes)
    assert [n.text for n in notes] == [n.text for n in crowded.notes]
    assert {n.attrib['photo_id'] for n in notes} == {crowded.id}
    info = ok(fake, token, 'flickr.photos.getInfo', photo_id=crowded.id)['photo']
    jref = sample('flickr.photos.getInfo.json')['photo']['notes']['note'][0]
    for note in info['notes']['note']:
        assert set(jref) <= set(note)
        check_types(note, jref, jref)
        assert inside((note['x'], note['y'], note['w'], note['h']), medium_frame(crowded))
    authors = {n.author for p in fake.account.photos.values() for n in p.notes}
    assert fake.user_nsid in authors and len(authors) >= 3
    bare = pick(fake, lambda p: not p.notes and not p.is_video)
    assert ok(fake, token, 'flickr.photos.getInfo', photo_id=bare.id)['photo']['notes'] == {'note': []}
    empty = xml_api(fake, token, 'flickr.photos.getInfo', photo_id=bare.id).find('photo/notes')
    assert list(empty) == list(xml_sample('flickr.photos.getInfo.people.2025.xml').find('photo/notes')) == []


def test_people_in_photos_with_and_without_boxes(fake, token):
    boxed = pick(fake, lambda p: len(p.people) == 2 and all(x.box for x in p.people)
                 and any(not x.realname for x in p.people))
    plain = pick(fake, lambda p: p.people and not any(x.box for x in p.people))
    nobody = pick(fake, lambda p: not p.people)
    ref = xml_sample('flickr.photos.getInfo.people.2025.xml').find('photo/people')
    for photo, has in ((boxed, '1'), (plain, '1'), (nobody, '0')):
        people = xml_api(fake, token, 'flickr.photos.getInfo', photo_id=photo.id).find('photo/people')
        assert people.attrib.keys() == ref.attrib.keys() and people.attrib['haspeople'] == has
    boxes_ref = xml_sample('flickr.photos.people.getList.boxes.2025.xml').find('people')
    plain_ref = xml_sample('flickr.photos.people.getList.2025.xml').find('people/person')
    hidden_ref = xml_sample('flickr.photos.people.getList.hidden_realname.2025.xml').find('people/person')
    got = xml_api(fake, token, 'flickr.photos.people.getList', photo_id=boxed.id).find('people')
    assert got.attrib.keys() == boxes_ref.attrib.keys() and got.attrib['total'] == '2'
    frame = (int(got.attrib['photo_width']), int(got.attrib['photo_height']))
    assert frame == medium_frame(boxed)
    named = [p for p in got.findall('person') if 'realname' in p.attrib]
    hidden = [p for p in got.findall('person') if 'realname' not in p.attrib]
    assert len(named) == len(hidden) == 1
    assert set(named[0].attrib) == set(boxes_ref.find('person').attrib)
    assert set(hidden[0].attrib) == set(hidden_ref.attrib) | {'x', 'y', 'w', 'h'}
    assert all(inside([p.attrib[k] for k in 'xywh'], frame) for p in got.findall('person'))
    unboxed = xml_api(fake, token, 'flickr.photos.people.getList', photo_id=plain.id).findall('people/person')
    assert unboxed and all(set(p.attrib) | {'realname'} == set(plain_ref.attrib) for p in unboxed)
    assert {p.attrib['nsid'] for p in unboxed} == {x.nsid for x in plain.people}
    none = ok(fake, token, 'flickr.photos.people.getList', photo_id=nobody.id)['people']
    assert (none['total'], none['person']) == (0, [])
    assert api(fake, token, 'flickr.photos.people.getList', photo_id='1')['code'] == 1


FAKE_PLACES = {('Ærøskøbing', 'Syddanmark', 'Denmark'): (55.88, 10.41),
               ('Zagreb', 'Zagreb', 'Croatia'): (45.82, 15.98),
               ('東京', 'Tokyo Prefecture', 'Japan'): (35.69, 139.69),
               ('Sydney', 'New South Wales', 'Australia'): (-33.87, 151.21),
               ('Reykjavík', 'Capital Region', 'Iceland'): (64.15, -21.94)}


def test_location_names_match_the_recorded_answer(fake, token):
    ref = xml_sample('flickr.photos.getInfo.people.2025.xml').find('photo/location')
    for photo in [p for p in fake.account.photos.values() if p.geotagged][:8]:
        loc = xml_api(fake, token, 'flickr.photos.getInfo', photo_id=photo.id).find('photo/location')
        assert set(ref.attrib) <= set(loc.attrib)
        assert {c.tag for c in ref} <= {c.tag for c in loc}
        names = {c.tag: c.text or '' for c in loc}
        lat, lon = FAKE_PLACES[names['locality'], names['region'], names['country']]
        assert abs(float(loc.attrib['latitude']) - lat) < 0.1 and abs(float(loc.attrib['longitude']) - lon) < 0.1
        info = ok(fake, token, 'flickr.photos.getInfo', photo_id=photo.id)['photo']['location']
        assert info['country']['_content'] == names['country'] and 'neighbourhood' in info
    flat = pick(fake, lambda p: not p.geotagged)
    assert xml_api(fake, token, 'flickr.photos.getInfo', photo_id=flat.id).find('photo/location') is None


def test_licenses_getinfo_is_the_recorded_list(fake, token):
    ref = [lic.attrib for lic in xml_sample('flickr.photos.licenses.getInfo.2025.xml').iter('license')]
    got = xml_api(fake, token, 'flickr.photos.licenses.getInfo')
    assert [lic.attrib for lic in got.iter('license')] == ref and len(ref) == 17
    listed = ok(fake, token, 'flickr.photos.licenses.getInfo')['licenses']['license']
    assert [(lic['id'], lic['name'], lic['url']) for lic in listed] == [
        (int(r['id']), r['name'], r['url']) for r in ref]


FAVE_EXTRAS = 'license,owner_name,original_format,o_dims,media,date_upload,url_sq,url_m,url_l,url_o'


def test_favorites_of_other_owners_their_files_and_pages(fake, token):
    ref = sample('flickr.favorites.getList.2016.json')['photos']
    favs = ok(fake, token, 'flickr.favorites.getList', extras=FAVE_EXTRAS, per_page=500)['photos']
    assert set(favs) == set(ref)
    check_types(favs, ref, ['page', 'pages', 'perpage', 'total'])
    for rec in favs['photo']:
        assert set(ref['photo'][0]) <= set(rec)
        check_types(rec, ref['photo'][0], ref['photo'][0])
        assert rec['owner'] != fake.user_nsid and rec['ownername'] and isinstance(rec['license'], str)
    assert favs['total'] == '6' and len({r['owner'] for r in favs['photo']}) >= 4
    faved = [int(r['date_faved']) for r in favs['photo']]
    assert faved == sorted(faved, reverse=True)
    assert sorted(r['media'] for r in favs['photo']) == ['photo'] * 5 + ['video']
    locked = [r for r in favs['photo'] if r['media'] == 'photo' and 'url_o' not in r]
    assert len(locked) == 1 and 'originalsecret' not in locked[0] and locked[0]['license'] == '4'
    for rec in favs['photo']:
        for key in ('url_sq', 'url_m', 'url_l', 'url_o'):
            if key in rec:
                r = SESSION.get(rec[key], timeout=10)
                assert r.status_code == 200 and r.content[:2] == b'\xff\xd8', (key, rec['id'])
    hidden = fake.account.find_photo(locked[0]['id'])
    r = SESSION.get('%s/static/%s/%s_%s_o.jpg' % (fake.base_url, hidden.server, hidden.id,
                                                  hidden.originalsecret), timeout=10)
    assert r.status_code == 404
    video = next(r for r in favs['photo'] if r['media'] == 'video')
    sizes = ok(fake, token, 'flickr.photos.getSizes', photo_id=video['id'])['sizes']['size']
    site = next(s for s in sizes if s['label'] == 'Site MP4')
    assert '/photos/%s/%s/play/site/' % (video['owner'], video['id']) in site['source']
    assert SESSION.get(site['source'], timeout=10).status_code == 200
    pages, page = [], 1
    while True:
        chunk = ok(fake, token, 'flickr.favorites.getList', per_page=4, page=page)['photos']
        pages += [r['id'] for r in chunk['photo']]
        if page >= chunk['pages']:
            break
        page += 1
    assert (chunk['pages'], pages) == (2, [r['id'] for r in favs['photo']])
    since = ok(fake, token, 'flickr.favorites.getList', min_fave_date=str(faved[2]))['photos']
    assert [r['id'] for r in since['photo']] == [r['id'] for r in favs['photo'][:3]]
    until = ok(fake, token, 'flickr.favorites.getList', max_fave_date=str(faved[2]))['photos']
    assert [r['id'] for r in until['photo']] == [r['id'] for r in favs['photo'][2:]]


def fave_ids(fake, token):
    return [r['id'] for r in ok(fake, token, 'flickr.favorites.getList')['photos']['photo']]


def test_favorite_mutations_and_calls_counted_per_method(fresh):
    token = fresh.issue_token()
    before = fave_ids(fresh, token)
    new = fresh.add_favorite(owner='brampitoyo')
    assert fave_ids(fresh, token) == [new] + before
    rec = ok(fresh, token, 'flickr.favorites.getList', extras='owner_name')['photos']['photo'][0]
    assert (rec['owner'], rec['ownername']) == (fresh.account.others[2].nsid, 'brampitoyo')
    fresh.remove_favorite(before[0])
    assert fave_ids(fresh, token) == [new] + before[1:]
    fresh.add_favorite(photo_id=before[0])
    assert fave_ids(fresh, token) == [before[0], new] + before[1:]
    with pytest.raises(ValueError):
        fresh.add_favorite(photo_id=before[0])
    with pytest.raises(KeyError):
        fresh.remove_favorite('1')
    r = requests.post(fresh.base_url + '/_fake/mutate', timeout=10,
                      json={'action': 'remove_favorite', 'args': {'photo_id': new}})
    assert r.status_code == 200 and new not in fave_ids(fresh, token)
    fresh.reset_stats()
    fave_ids(fresh, token)
    fave_ids(fresh, token)
    ok(fresh, token, 'flickr.galleries.getList')
    assert fresh.stats()['api_calls'] == {'flickr.favorites.getList': 2, 'flickr.galleries.getList': 1}


def test_new_methods_need_a_signed_call(fake, token):
    album = fake.account.album_order()[0]
    gallery = next(iter(fake.account.galleries))
    group = next(iter(fake.account.groups))
    calls = [('flickr.favorites.getList', {}), ('flickr.galleries.getList', {}),
             ('flickr.galleries.getPhotos', {'gallery_id': gallery}),
             ('flickr.galleries.getListForPhoto', {'photo_id': fake.account.photostream_order()[0]}),
             ('flickr.people.getGroups', {'user_id': 'me'}),
             ('flickr.groups.pools.getPhotos', {'group_id': group}),
             ('flickr.photosets.comments.getList', {'photoset_id': album}),
             ('flickr.photos.people.getList', {'photo_id': fake.account.photostream_order()[0]})]
    for method, params in calls:
        assert ok(fake, token, method, **params)['stat'] == 'ok'
        bad = api(fake, (token[0], 'wrong-secret'), method, **params)
        assert (bad['stat'], bad['code']) == ('fail', 96), method
        unsigned = SESSION.post(fake.base_url + '/services/rest/', timeout=10, data=dict(
            params, method=method, api_key=fake.api_key, format='json', nojsoncallback='1')).json()
        assert (unsigned['stat'], unsigned['code']) == ('fail', 99), method


def test_galleries_hold_own_and_others_photos(fake, token):
    ref = xml_sample('flickr.galleries.getListForPhoto.2024.xml').find('galleries/gallery')
    doc = xml_sample('flickr.galleries.getList.doc.xml')
    got = xml_api(fake, token, 'flickr.galleries.getList').find('galleries')
    assert set(got.attrib) == set(doc.attrib) and got.attrib['user_id'] == fake.user_nsid
    galleries = got.findall('gallery')
    assert len(galleries) == int(got.attrib['total']) == 3
    for g in galleries:
        assert set(g.attrib) == set(ref.attrib) and [c.tag for c in g] == [c.tag for c in ref]
        assert g.attrib['id'].endswith('-' + g.attrib['gallery_id']) and g.attrib['owner'] == fake.user_nsid
    created = [int(g.attrib['date_create']) for g in galleries]
    assert created == sorted(created, reverse=True)
    pdoc = xml_sample('flickr.galleries.getPhotos.doc.xml')
    owners = set()
    for g in galleries:
        photos = xml_api(fake, token, 'flickr.galleries.getPhotos', gallery_id=g.attrib['id']).find('photos')
        assert set(photos.attrib) == set(pdoc.attrib)
        items = photos.findall('photo')
        assert photos.attrib['total'] == g.attrib['count_total'] == str(len(items))
        assert [p.attrib['id'] for p in items if p.attrib['is_primary'] == '1'] == [
            g.attrib['primary_photo_id']]
        for p in items:
            assert set(pdoc.find('photo').attrib) <= set(p.attrib)
            assert (p.find('comment') is not None) == (p.attrib['has_comment'] == '1')
            owners.add(p.attrib['owner'])
    assert fake.user_nsid in owners and len(owners) >= 3
    first = galleries[0].attrib['id']
    whole = ok(fake, token, 'flickr.galleries.getPhotos', gallery_id=first, extras='url_m')['photos']
    paged = [ok(fake, token, 'flickr.galleries.getPhotos', gallery_id=first, per_page=4, page=n)
             ['photos'] for n in (1, 2)]
    assert [p['id'] for c in paged for p in c['photo']] == [p['id'] for p in whole['photo']]
    assert (paged[0]['pages'], paged[0]['perpage'], whole['total']) == (2, 4, '6')
    stranger = next(p for p in whole['photo'] if p['owner'] != fake.user_nsid)
    assert SESSION.get(stranger['url_m'], timeout=10).status_code == 200
    assert api(fake, token, 'flickr.galleries.getPhotos', gallery_id='1-2')['code'] == 1
    holding = xml_sample('flickr.galleries.getListForPhoto.2024.xml').find('galleries')
    mine = whole['photo'][0]['id']
    found = xml_api(fake, token, 'flickr.galleries.getListForPhoto', photo_id=mine).find('galleries')
    assert set(found.attrib) == set(holding.attrib) and found.attrib['photo_id'] == mine
    assert [g.attrib['id'] for g in found.findall('gallery')] == [
        g.attrib['id'] for g in galleries
        if mine in [p['id'] for p in ok(fake, token, 'flickr.galleries.getPhotos',
                                        gallery_id=g.attrib['id'])['photos']['photo']]]
    assert found.findall('gallery') and all(
        set(g.attrib) == set(ref.attrib) for g in found.findall('gallery'))


def test_groups_pools_and_the_photos_contexts(fake, token):
    doc = xml_sample('flickr.people.getGroups.doc.xml')
    groups = xml_api(fake, token, 'flickr.people.getGroups', user_id='me').findall('groups/group')
    assert len(groups) == 4 and all(set(g.attrib) == set(doc.find('group').attrib) for g in groups)
    pool_ref = xml_sample('flickr.photos.getAllContexts.pools.2024.xml').find('pool')
    pdoc = xml_sample('flickr.groups.pools.getPhotos.doc.xml')
    owners, empty = set(), 0
    for g in groups:
        listing = xml_api(fake, token, 'flickr.groups.pools.getPhotos', group_id=g.attrib['nsid'],
                          per_page=500).find('photos')
        assert set(listing.attrib) == set(pdoc.attrib)
        photos = listing.findall('photo')
        assert listing.attrib['total'] == g.attrib['pool_count'] == str(len(photos))
        empty += not photos
        added = [int(p.attrib['dateadded']) for p in photos]
        assert added == sorted(added, reverse=True)
        for p in photos:
            assert set(pdoc.find('photo').attrib) <= set(p.attrib)
            owners.add(p.attrib['owner'])
        mine = xml_api(fake, token, 'flickr.groups.pools.getPhotos', group_id=g.attrib['nsid'],
                       user_id=fake.user_nsid, per_page=500).findall('photos/photo')
        assert [p.attrib['id'] for p in mine] == [
            p.attrib['id'] for p in photos if p.attrib['owner'] == fake.user_nsid]
        for p in mine[:3]:
            rsp = xml_api(fake, token, 'flickr.photos.getAllContexts', photo_id=p.attrib['id'])
            pool = next(e for e in rsp.findall('pool') if e.attrib['id'] == g.attrib['nsid'])
            assert set(pool.attrib) == set(pool_ref.attrib) and pool.attrib['url'].endswith('/pool/')
            assert pool.attrib['title'] == g.attrib['name']
    assert empty == 1 and fake.user_nsid in owners and len(owners) >= 3
    big = max(groups, key=lambda g: int(g.attrib['pool_count'])).attrib['nsid']
    pages = [ok(fake, token, 'flickr.groups.pools.getPhotos', group_id=big, per_page=5, page=n)
             ['photos'] for n in range(1, 5)]
    ids = [p['id'] for c in pages for p in c['photo']]
    whole = ok(fake, token, 'flickr.groups.pools.getPhotos', group_id=big, per_page=500)['photos']
    assert ids == [p['id'] for p in whole['photo']] and pages[0]['pages'] == 4
    assert api(fake, token, 'flickr.groups.pools.getPhotos', group_id='1@N20')['code'] == 2


def test_album_comments_and_their_count(fresh):
    token = fresh.issue_token()
    doc = xml_sample('flickr.photosets.comments.getList.doc.xml')
    albums = ok(fresh, token, 'flickr.photosets.getList')['photosets']['photoset']
    for album in albums:
        comments = xml_api(fresh, token, 'flickr.photosets.comments.getList',
                           photoset_id=album['id']).find('comments')
        assert set(comments.attrib) == set(doc.attrib) and comments.attrib['photoset_id'] == album['id']
        listed = comments.findall('comment')
        assert len(listed) == int(album['count_comments'])
        assert all(set(c.attrib) == set(doc.find('comment').attrib) and c.text for c in listed)
    assert any(int(a['count_comments']) for a in albums)
    quiet = next(a for a in albums if a['count_comments'] == '0')
    assert ok(fresh, token, 'flickr.photosets.comments.getList', photoset_id=quiet['id'])[
        'comments'] == {'photoset_id': quiet['id']}
    cid = fresh.add_album_comment(quiet['id'], 'Lovely <b>set</b> & more')
    after = next(a for a in ok(fresh, token, 'flickr.photosets.getList')['photosets']['photoset']
                 if a['id'] == quiet['id'])
    assert after['count_comments'] == '1' and after['date_update'] == quiet['date_update']
    got = ok(fresh, token, 'flickr.photosets.comments.getList', photoset_id=quiet['id'])['comments']
    assert [(c['id'], c['_content']) for c in got['comment']] == [(cid, 'Lovely <b>set</b> & more')]
    assert api(fresh, token, 'flickr.photosets.comments.getList', photoset_id='1')['code'] == 1


def test_note_person_gallery_and_pool_mutations(fresh):
    token = fresh.issue_token()
    acct = fresh.account
    ph = pick(fresh, lambda p: not p.is_video and not p.notes and not p.people
              and not acct.groups_of(p.id))
    before = ph.lastupdate
    nid = fresh.add_note(ph.id, 'Hello & <bye>', x=1, y=2, w=30, h=40, author='jinxlib')
    info = ok(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id)['photo']
    assert [(n['id'], n['x'], n['y'], n['w'], n['h'], n['_content'], n['authorname'])
            for n in info['notes']['note']] == [(nid, '1', '2', '30', '40', 'Hello & <bye>', 'jinxlib')]
    assert int(info['dates']['lastupdate']) > before
    recent = ok(fresh, token, 'flickr.photos.recentlyUpdated', min_date=str(before + 1))['photos']
    assert ph.id in [p['id'] for p in recent['photo']]
    fresh.delete_note(ph.id, nid)
    assert ok(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id)['photo']['notes'] == {'note': []}
    fresh.add_person(ph.id, user='brampitoyo', box=(5, 6, 70, 80))
    assert ok(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id)['photo']['people'] == {'haspeople': 1}
    person = ok(fresh, token, 'flickr.photos.people.getList', photo_id=ph.id)['people']['person']
    assert [(p['username'], p['x'], p['y'], p['w'], p['h']) for p in person] == [
        ('brampitoyo', '5', '6', '70', '80')]
    stranger = next(iter(acct.others_photos))
    gid = fresh.create_gallery('New & shiny', [ph.id, stranger])
    listed = ok(fresh, token, 'flickr.galleries.getList')['galleries']['gallery'][0]
    assert (listed['id'], listed['title'], listed['count_total']) == (gid, {'_content': 'New & shiny'}, '2')
    other = pick(fresh, lambda p: p.id != ph.id)
    fresh.add_to_gallery(gid, other.id, comment='Also this')
    photos = ok(fresh, token, 'flickr.galleries.getPhotos', gallery_id=gid)['photos']['photo']
    assert [(p['id'], p.get('comment')) for p in photos] == [
        (ph.id, None), (stranger, None), (other.id, {'_content': 'Also this'})]
    lonely = list(acct.groups.values())[-1]
    fresh.add_to_pool(lonely.nsid, ph.id)
    pools = ok(fresh, token, 'flickr.photos.getAllContexts', photo_id=ph.id)['pool']
    assert [(p['id'], p['pool_count']) for p in pools] == [(lonely.nsid, '1')]
    fresh.delete_photo(ph.id)
    photos = ok(fresh, token, 'flickr.galleries.getPhotos', gallery_id=gid)['photos']['photo']
    assert [p['id'] for p in photos] == [stranger, other.id]
    assert ok(fresh, token, 'flickr.groups.pools.getPhotos', group_id=lonely.nsid)['photos']['total'] == '0'
    marked = pick(fresh, lambda p: any(x.nsid == fresh.user_nsid for x in p.people))
    fresh.set_path_alias('zoe-a')
    people = ok(fresh, token, 'flickr.photos.people.getList', photo_id=marked.id)['people']['person']
    assert [p['path_alias'] for p in people if p['nsid'] == fresh.user_nsid] == ['zoe-a']
    for call, args in ((fresh.add_note, ('1', 'x')), (fresh.add_to_gallery, ('1-2', other.id)),
                       (fresh.add_to_pool, ('1@N20', other.id)), (fresh.add_person, ('1',))):
        with pytest.raises(KeyError):
            call(*args)


def social(account):
    return ([(p.id, [(n.id, n.x, n.y, n.w, n.h, n.text) for n in p.notes],
              [(x.nsid, x.box) for x in p.people]) for p in account.photos.values()],
            [(g.id, g.items) for g in account.galleries.values()],
            [(g.nsid, g.name, g.pool) for g in account.groups.values()],
            [[(c.id, c.text) for c in a.comment_list] for a in account.albums.values()])


def test_what_others_add_is_deterministic_and_in_the_export(tmp_path):
    assert social(fakeflickr.generate_account(5)) == social(fakeflickr.generate_account(5))
    assert social(fakeflickr.generate_account(5)) != social(fakeflickr.generate_account(6))
    # their own random stream: seed 5's photos, albums and first four favourites are those a
    # generator without notes, galleries and groups makes (written down)
    five = fakeflickr.generate_account(5)
    photos = list(five.photos.values())
    assert [(p.id, p.secret) for p in photos[:2] + photos[-1:]] == [
        ('5000169631', 'e08a0a8c96'), ('5000179513', 'f0f9a01fe8'), ('5000411239', '110ae39273')]
    assert list(five.albums)[:3] == ['72157705094913643', '72157509467420517', '72157592930935628']
    assert [(f.id, when) for f, when in five.favorites][:4] == [
        ('3542403849', 1699747200), ('3128307706', 1699750800), ('3798232065', 1699754400),
        ('3822589648', 1699758000)]
    assert len(five.favorites) == 6
    with fakeflickr.FakeFlickr(seed=5, photos=12, videos=2, albums=3, collections=1,
                               file_size=2_000) as f:
        acct = f.account
        plain = zip_members(tmp_path / 'a' / f.write_export(tmp_path / 'a')['metadata_zip'])
        assert json.loads(plain['galleries.json']) == {'galleries': []}
        meta = zip_members(tmp_path / f.write_export(tmp_path, galleries=True)['metadata_zip'])
        galleries = json.loads(meta['galleries.json'])['galleries']
        assert [(g['id'], g['title'], g['photos'], g['photo_count']) for g in galleries] == [
            (g.gallery_id, g.title, [pid for pid, _ in g.items], str(len(g.items)))
            for g in acct.galleries.values()]
        groups = json.loads(meta['groups.json'])['groups']
        assert [(g['id'], g['name'], g['user_role']) for g in groups] == [
            (g.nsid, g.name, 'admin' if g.admin else 'member') for g in acct.groups.values()]
        for photo in acct.photos.values():
            rec = json.loads(meta['photo_%s.json' % photo.id])
            assert rec['count_notes'] == str(len(photo.notes))
            assert [(n['id'], n['user'], n['x'], n['note']) for n in rec['notes']] == [
                (n.id, n.author, str(n.x), n.text) for n in photo.notes]
            assert [g['id'] for g in rec['groups']] == [g.nsid for g in acct.groups_of(photo.id)]
            assert all(g['url'].startswith('https://www.flickr.com/groups/') for g in rec['groups'])
        assert any(p.notes for p in acct.photos.values()) and any(
            acct.groups_of(p) for p in acct.photos)
        set_comments = json.loads(meta['sets_comments_part001.json'])
        assert [(c['photoset_id'], c['comment_id'], c['comment']) for c in set_comments] == [
            (a.id, c.id, c.text) for a in acct.albums.values() for c in a.comment_list]
        assert set_comments


# -- OAuth ----------------------------------------------------------------------

def test_signature_required_and_verified(fake, token):
    # unsigned call with only the api_key
    r = SESSION.post(fake.base_url + '/services/rest/', data={
        'method': 'flickr.people.getPhotos', 'api_key': fake.api_key, 'user_id': 'me',
        'format': 'json', 'nojsoncallback': 1})
    assert r.json() == {'stat': 'fail', 'code': 99, 'message':
                        'Insufficient permissions. Method requires read privileges; none granted.'}
    # flickr.test.echo needs no auth
    echo = SESSION.get(fake.base_url + '/rest/', params={
        'method': 'flickr.test.echo', 'api_key': fake.api_key, 'foo': 'bar', 'format': 'json',
        'nojsoncallback': 1}).json()
    assert echo['stat'] == 'ok' and echo['foo'] == {'_content': 'bar'}
    # tampered after signing
    req = requests.Request('POST', fake.base_url + '/services/rest/', data={
        'method': 'flickr.people.getPhotos', 'user_id': 'me', 'per_page': '7', 'format': 'json',
        'nojsoncallback': '1'}, auth=OAuth1(fake.api_key, fake.api_secret, *token)).prepare()
    req.body = req.body.replace(b'per_page=7', b'per_page=8')
    req.headers['Content-Length'] = str(len(req.body))
    assert SESSION.send(req).json() == {'stat': 'fail', 'code': 96, 'message': 'Invalid signature'}
    # wrong token secret, wrong consumer secret
    assert api(fake, (token[0], 'nope'), 'flickr.test.login')['code'] == 96
    r = SESSION.post(fake.base_url + '/rest/', data={'method': 'flickr.test.login', 'format': 'json',
                                                     'nojsoncallback': 1},
                     auth=OAuth1(fake.api_key, 'wrong-secret', *token))
    assert r.json()['code'] == 96
    # unknown consumer key, signed
    r = SESSION.post(fake.base_url + '/rest/', data={'method': 'flickr.test.login', 'format': 'json',
                                                     'nojsoncallback': 1},
                     auth=OAuth1('unknown-key', fake.api_secret, *token))
    assert r.json() == sample('error.invalid_api_key.json')
    # unknown token
    assert api(fake, ('72157000000000000-0000000000000000', 'x'), 'flickr.test.login')['code'] == 98
    # oauth params but no signature
    r = SESSION.post(fake.base_url + '/rest/', data={
        'method': 'flickr.test.login', 'format': 'json', 'nojsoncallback': 1,
        'oauth_consumer_key': fake.api_key, 'oauth_token': token[0], 'oauth_nonce': 'x',
        'oauth_timestamp': str(int(time.time())), 'oauth_signature_method': 'HMAC-SHA1'})
    assert r.json() == {'stat': 'fail', 'code': 97, 'message': 'Missing signature'}
    # a stale timestamp
    r = SESSION.post(fake.base_url + '/rest/', data={'method': 'flickr.test.login', 'format': 'json',
                                                     'nojsoncallback': 1},
                     auth=OAuth1(fake.api_key, fake.api_secret, *token,
                                 timestamp=str(int(time.time()) - 3600)))
    assert r.json()['code'] == 96


def test_reused_nonce_rejected_and_query_signing_works(fake, token):
    req = requests.Request('POST', fake.base_url + '/services/rest/', data={
        'method': 'flickr.test.login', 'format': 'json', 'nojsoncallback': '1'},
        auth=OAuth1(fake.api_key, fake.api_secret, *token)).prepare()
    assert SESSION.send(req).json()['stat'] == 'ok'
    assert SESSION.send(req).json() == {'stat': 'fail', 'code': 96, 'message': 'Invalid signature'}
    r = SESSION.get(fake.base_url + '/services/rest/', params={
        'method': 'flickr.photos.getInfo', 'photo_id': fake.account.photostream_order()[0],
        'format': 'json', 'nojsoncallback': '1', 'extras': 'a b,c/ü'},
        auth=OAuth1(fake.api_key, fake.api_secret, *token, signature_type='query'))
    assert r.json()['stat'] == 'ok'
    # unicode in a form body is signed over its UTF-8 percent-encoding
    assert ok(fake, token, 'flickr.test.echo', text='Ærø 夏 🌊 a+b&c=d')['text'] == {
        '_content': 'Ærø 夏 🌊 a+b&c=d'}


def test_revoked_token_fails_with_98(fresh):
    tok = fresh.issue_token()
    assert ok(fresh, tok, 'flickr.test.login')
    fresh.revoke_token(tok[0])
    assert api(fresh, tok, 'flickr.test.login') == {'stat': 'fail', 'code': 98,
                                                    'message': 'Invalid auth token'}


def test_oauth_endpoints_errors_and_callback_flow(fake):
    url = fake.base_url + '/services/oauth/request_token'
    r = SESSION.post(url, data={'oauth_callback': 'oob'}, auth=OAuth1('nobody', 'x'))
    assert (r.status_code, r.text) == (401, 'oauth_problem=consumer_key_unknown')
    r = SESSION.post(url, data={'oauth_callback': 'oob'}, auth=OAuth1(fake.api_key, 'wrong'))
    assert r.status_code == 401 and r.text.startswith('oauth_problem=signature_invalid&debug_sbs=POST&')
    # callback flow: authorize redirects to the callback with the verifier
    r = SESSION.get(fake.base_url + '/oauth/request_token',
                    auth=OAuth1(fake.api_key, fake.api_secret,
                                callback_uri='http://localhost:9/cb?x=1'))
    assert r.status_code == 200 and r.text.startswith('oauth_callback_confirmed=true&oauth_token=')
    rt = dict(x.split('=') for x in r.text.split('&'))
    r = SESSION.get(fake.base_url + '/oauth/authorize', params={'oauth_token': rt['oauth_token'],
                                                                'perms': 'write'},
                    allow_redirects=False)
    assert r.status_code == 302
    loc = r.headers['Location']
    assert loc.startswith('http://localhost:9/cb?x=1&oauth_token=%s&oauth_verifier=' % rt['oauth_token'])
    verifier = loc.rsplit('=', 1)[1]
    acc = fake.base_url + '/oauth/access_token'
    bad = SESSION.post(acc, auth=OAuth1(fake.api_key, fake.api_secret, rt['oauth_token'],
                                        rt['oauth_token_secret'], verifier='000-000-000'))
    assert (bad.status_code, bad.text) == (401, 'oauth_problem=token_rejected')
    good = SESSION.post(acc, auth=OAuth1(fake.api_key, fake.api_secret, rt['oauth_token'],
                                         rt['oauth_token_secret'], verifier=verifier))
    assert good.status_code == 200
    fields = dict(requests.utils.parse_qsl(good.text) if hasattr(requests.utils, 'parse_qsl')
                  else __import__('urllib.parse').parse.parse_qsl(good.text))
    assert set(fields) == {'fullname', 'oauth_token', 'oauth_token_secret', 'user_nsid', 'username'}
    assert fields['user_nsid'] == fake.user_nsid
    check = ok(fake, (fields['oauth_token'], fields['oauth_token_secret']), 'flickr.auth.oauth.checkToken')
    assert check['oauth']['perms'] == {'_content': 'write'}
    # the request token is single-use
    again = SESSION.post(acc, auth=OAuth1(fake.api_key, fake.api_secret, rt['oauth_token'],
                                          rt['oauth_token_secret'], verifier=verifier))
    assert again.status_code == 401


def test_flickrapi_login_and_photostream_walk(fake, tmp_path):
    import flickrapi
    flickr = fake.login_with_flickrapi(tmp_path / 'tokens')
    assert isinstance(flickr, flickrapi.FlickrAPI)
    assert flickr.token_valid(perms='read')
    seen, page = [], 1
    while True:
        rsp = flickr.people.getPhotos(user_id='me', extras='url_o,original_format', per_page=10,
                                      page=page)
        seen += [p['id'] for p in rsp['photos']['photo']]
        assert all(p['url_o'].startswith(fake.base_url + '/static/') for p in rsp['photos']['photo'])
        if page >= rsp['photos']['pages']:
            break
        page += 1
    assert seen == fake.account.photostream_order()
    # a new FlickrAPI object finds the token in the cache and it is still valid
    again = flickrapi.FlickrAPI(fake.api_key, fake.api_secret, format='parsed-json',
                                token_cache_location=str(tmp_path / 'tokens'))
    assert again.token_valid(perms='read')
    assert again.test.login()['user']['id'] == fake.user_nsid
    assert not again.token_valid(perms='write')


# -- paging -----------------------------------------------------------------------

@pytest.mark.parametrize('per_page', [7, 500])
def test_people_getphotos_paging_covers_everything_once(fake, token, per_page):
    ids, last = walk_stream(fake, token, per_page)
    assert ids == fake.account.photostream_order()
    assert last['pages'] == -(-46 // per_page) and last['perpage'] == per_page and last['total'] == '46'


def test_paging_edges(fake, token):
    past = ok(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=7, page=99)['photos']
    assert past['photo'] == [] and past['pages'] == 7 and past['page'] == 99
    capped = ok(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=5000)['photos']
    assert capped['perpage'] == 500
    default = ok(fake, token, 'flickr.people.getPhotos', user_id='me')['photos']
    assert default['perpage'] == 100
    stream = fake.account.photostream_order()
    lo = fake.account.photos[stream[30]].dateupload
    hi = fake.account.photos[stream[10]].dateupload
    window, _ = walk_stream(fake, token, 5, min_upload_date=lo, max_upload_date=hi)
    assert window == [i for i in stream if lo <= fake.account.photos[i].dateupload <= hi]
    private, _ = walk_stream(fake, token, 100, privacy_filter=5)
    assert private and all(not (fake.account.photos[i].ispublic or fake.account.photos[i].isfriend
                                or fake.account.photos[i].isfamily) for i in private)


def test_photosets_getphotos_paging(fake, token):
    for album in fake.account.albums.values():
        got, page = [], 1
        while True:
            data = ok(fake, token, 'flickr.photosets.getPhotos', photoset_id=album.id,
                      per_page=3, page=page)['photoset']
            got += [p['id'] for p in data['photo']]
            assert data['per_page'] == data['perpage'] == 3
            if page >= data['pages']:
                break
            page += 1
        assert got == album.photo_ids
    album = next(a for a in fake.account.albums.values()
                 if any(fake.account.photos[i].is_video for i in a.photo_ids))
    vids = ok(fake, token, 'flickr.photosets.getPhotos', photoset_id=album.id, media='videos',
              extras='media')['photoset']['photo']
    assert vids and all(p['media'] == 'video' for p in vids)


# -- files ------------------------------------------------------------------------

def test_original_files_match_and_are_valid_images(fake, token):
    data = ok(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=500,
              extras='url_o,original_format,media,url_q')['photos']['photo']
    seen = set()
    for p in data:
        photo = fake.account.photos[p['id']]
        r = SESSION.get(p['url_o'], timeout=10)
        assert r.status_code == 200
        assert int(r.headers['Content-Length']) == len(r.content)
        fmt = p['originalformat']
        assert r.headers['Content-Type'] == {'jpg': 'image/jpeg', 'png': 'image/png',
                                             'gif': 'image/gif'}[fmt]
        {'jpg': jpeg_valid, 'png': png_valid, 'gif': gif_valid}[fmt](r.content)
        if photo.is_video:
            assert r.content == fake.still_file_bytes(photo.id)
        else:
            assert r.content == fake.photo_file_bytes(photo.id)
            assert 14_000 * 0.99 <= len(r.content) <= 26_000 * 1.01
            seen.add(fmt)
        q = SESSION.get(p['url_q'], timeout=10)
        assert q.status_code == 200 and q.headers['Content-Type'] == 'image/jpeg'
        jpeg_valid(q.content)
        assert len(q.content) < 3000
    assert seen == {'jpg', 'png', 'gif'}
    sizes = {len(fake.photo_file_bytes(i)) for i in fake.account.photos}
    assert len(sizes) > 10, 'sizes should vary per photo'


def test_static_404s_head_and_range(fake):
    ph = pick(fake, lambda p: not p.is_video)
    url = fakeflickr.static_url(fake.base_url, ph, '_o')
    assert SESSION.get(url.replace(ph.originalsecret, '0' * 10)).status_code == 404
    assert SESSION.get(url.replace('/static/%s/' % ph.server, '/static/1/')).status_code == 404
    assert SESSION.get(fake.base_url + '/static/1/1_abc_o.jpg').status_code == 404
    assert SESSION.get(fake.base_url + '/nothing-here').status_code == 404
    head = SESSION.head(url)
    assert head.status_code == 200 and int(head.headers['Content-Length']) == len(
        fake.photo_file_bytes(ph.id)) and head.content == b''
    part = SESSION.get(url, headers={'Range': 'bytes=100-'})
    assert part.status_code == 206 and part.content == fake.photo_file_bytes(ph.id)[100:]
    assert part.headers['Content-Range'].startswith('bytes 100-')


def test_video_play_redirects(fake, token):
    for video in (p for p in fake.account.photos.values() if p.is_video):
        sizes = {s['label']: s for s in ok(fake, token, 'flickr.photos.getSizes',
                                            photo_id=video.id)['sizes']['size']}
        label = 'Video Original' if video.video_original_available else 'Site MP4'
        first = SESSION.get(sizes[label]['source'], allow_redirects=False)
        assert first.status_code == 302
        loc = first.headers['Location']
        assert re.match(r'%s/video/%s/[0-9a-f]+/(orig|site)\.(mp4|mov)\?s=\S+$'
                        % (re.escape(fake.base_url), video.id), loc)
        r = SESSION.get(sizes[label]['source'])
        assert r.status_code == 200 and r.content == fake.rendition_bytes(video.id, label)
        assert r.content[4:8] == b'ftyp'
        want = 'video/quicktime' if video.video_original_available and video.video_ext == 'mov' \
            else 'video/mp4'
        assert r.headers['Content-Type'] == want
        assert int(r.headers['Content-Length']) == len(r.content)
        if not video.video_original_available:
            assert SESSION.get(fakeflickr.play_url(fake.base_url, fake.account, video, 'orig')
                               ).status_code == 404
        assert SESSION.get(loc.split('?')[0]).status_code == 403       # unsigned static URL
        mobile = SESSION.get(sizes['Mobile MP4']['source'])
        assert mobile.status_code == 200 and mobile.content[4:8] == b'ftyp'


# -- faults -------------------------------------------------------------------------

def test_random_fault_switches(fake, token):
    url = fakeflickr.static_url(fake.base_url, pick(fake, lambda p: not p.is_video), '_o')
    f = fake.faults
    f.error_rate = 1.0
    assert post(fake, token, 'flickr.test.login').status_code in (500, 502, 503)
    assert SESSION.get(url).status_code in (500, 502, 503)
    f.reset()
    f.rate_429, f.retry_after = 1.0, 7
    r = post(fake, token, 'flickr.test.login')
    assert r.status_code == 429 and r.headers['Retry-After'] == '7'
    f.reset()
    f.fail_105_rate = 1.0
    assert api(fake, token, 'flickr.test.login') == {'stat': 'fail', 'code': 105,
                                                     'message': 'Service currently unavailable'}
    assert SESSION.get(url).status_code == 200, '105 never hits files'
    f.reset()
    f.html_rate = 1.0
    r = post(fake, token, 'flickr.test.login')
    assert r.status_code == 200 and r.headers['Content-Type'].startswith('text/html')
    with pytest.raises(ValueError):
        r.json()
    f.reset()
    f.drop_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        post(fake, token, 'flickr.test.login', session=requests.Session())
    f.reset()
    f.truncate_rate = 1.0
    for target in ('api', 'file'):
        try:
            r = SESSION.get(url) if target == 'file' else post(fake, token, 'flickr.test.login')
            assert len(r.content) < int(r.headers['Content-Length'])
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError):
            pass
    f.reset()
    f.drop_rate, f.targets = 1.0, 'file'
    assert ok(fake, token, 'flickr.test.login')
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
    f.reset()
    f.error_rate, f.kind_targets = 1.0, {'error': 'api'}
    assert SESSION.get(url).status_code == 200
    assert post(fake, token, 'flickr.test.login').status_code >= 500


def test_fault_rates_are_probabilistic_and_seeded(fake, token):
    fake.faults.update(error_rate=0.5, fault_seed=42, targets='api')
    a = [post(fake, token, 'flickr.test.login').status_code for _ in range(40)]
    fake.faults.fault_seed = 42
    b = [post(fake, token, 'flickr.test.login').status_code for _ in range(40)]
    assert a == b and 200 in a and any(s >= 500 for s in a)


def test_scheduled_one_shot_faults(fake, token):
    fake.reset_stats()
    f = fake.faults
    url = fakeflickr.static_url(fake.base_url, pick(fake, lambda p: not p.is_video), '_o')
    f.schedule('503', count=2, target='api')
    assert [post(fake, token, 'flickr.test.login').status_code for _ in range(3)] == [503, 503, 200]
    f.schedule('429', target='api', method='flickr.people.getPhotos')
    assert post(fake, token, 'flickr.test.login').status_code == 200
    r = post(fake, token, 'flickr.people.getPhotos', user_id='me')
    assert r.status_code == 429 and r.headers['Retry-After'] == '1'
    f.schedule('empty', target='file')
    r = SESSION.get(url)
    assert r.status_code == 200 and r.content == b'' and r.headers['Content-Length'] == '0'
    f.schedule('truncate', target='file')
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        SESSION.get(url)
    f.schedule('drop', target='file')
    with pytest.raises(requests.ConnectionError):
        SESSION.get(url)
    assert SESSION.get(url).status_code == 200
    f.schedule('105', target='api')
    assert api(fake, token, 'flickr.test.login')['code'] == 105
    f.schedule('html', target='any')
    assert SESSION.get(url).headers['Content-Type'].startswith('text/html')
    f.schedule('500')
    f.schedule('502')
    assert SESSION.get(url).status_code == 500
    assert post(fake, token, 'flickr.test.login').status_code == 502
    with pytest.raises(ValueError):
        f.schedule('bogus')
    stats = fake.stats()
    assert stats['faults'] == {'503': 2, '429': 1, 'empty': 1, 'truncate': 1, 'drop': 1,
                               '105': 1, 'html': 1, '500': 1, '502': 1}
    assert stats['api_calls']['flickr.test.login'] >= 6 and stats['file_requests'] >= 6


def test_hourly_limit(fresh):
    tok = fresh.issue_token()
    fresh.faults.hourly_limit = 3
    assert [post(fresh, tok, 'flickr.test.login').status_code for _ in range(3)] == [200] * 3
    r = post(fresh, tok, 'flickr.test.login')
    assert r.status_code == 429 and 3500 <= int(r.headers['Retry-After']) <= 3600
    assert fresh.stats()['faults'] == {'hourly_limit': 1}
    fresh.add_consumer('other-key', 'other-secret')
    other = fresh.oauth.issue_access('other-key', 'read', fresh.user_nsid)
    r = SESSION.post(fresh.base_url + '/rest/', data={'method': 'flickr.test.login',
                                                       'format': 'json', 'nojsoncallback': 1},
                     auth=OAuth1('other-key', 'other-secret', *other))
    assert r.json()['stat'] == 'ok', 'the limit is per key'



def test_hourly_limit_window_is_configurable(fresh):
    tok = fresh.issue_token()
    fresh.faults.update(hourly_limit=2, hourly_window=1.5)
    started = time.time()
    fresh.hourly_clock = lambda: started
    assert [post(fresh, tok, 'flickr.test.login').status_code for _ in range(2)] == [200] * 2
    fresh.hourly_clock = lambda: started + 1.4
    r = post(fresh, tok, 'flickr.test.login')
    assert r.status_code == 429 and int(r.headers['Retry-After']) == 1   # 0.1 s left, said in whole seconds
    fresh.hourly_clock = lambda: started + 1.6
    assert post(fresh, tok, 'flickr.test.login').status_code == 200, 'the window has passed'
    assert fresh.stats()['faults'] == {'hourly_limit': 1}
    fresh.faults.reset()
    assert fresh.faults.hourly_window == 3600.0


def test_requests_before_retry_after_has_run_out_are_counted(fresh):
    tok = fresh.issue_token()
    fresh.in_flight = 0   # no request is in flight here: each is sent after the last answer
    photo = pick(fresh, lambda p: not p.is_video)
    url = fakeflickr.static_url(fresh.base_url, photo, '_o')
    fresh.faults.update(retry_after=3600)
    fresh.faults.schedule('429', count=1, target='api', method='flickr.test.login')
    assert post(fresh, tok, 'flickr.test.login').status_code == 429
    assert SESSION.get(url).status_code == 200   # a file: not held by an API call's 429
    assert fresh.stats()['before_retry_after'] == {}
    assert post(fresh, tok, 'flickr.test.login').status_code == 200
    assert post(fresh, tok, 'flickr.photos.getInfo', photo_id=photo.id).status_code == 200
    assert fresh.stats()['before_retry_after'] == {'api': 2}
    fresh.faults.update(file_429_rate=1.0, file_retry_after='always')
    assert SESSION.get(url).status_code == 429
    fresh.faults.update(file_429_rate=0.0)
    assert SESSION.get(url).status_code == 200
    assert fresh.stats()['before_retry_after'] == {'api': 2, 'file': 1}
    fresh.reset_stats()
    fresh.in_flight = 3600   # the same later requests, seen as ones that were already on their way
    assert post(fresh, tok, 'flickr.test.login').status_code == 200 and SESSION.get(url).status_code == 200
    assert fresh.stats()['before_retry_after'] == {}


def test_scheduled_faults_filtered_by_params_and_path(fake, token):
    fake.reset_stats()
    f = fake.faults
    photos = [p for p in fake.account.photos.values() if not p.is_video][:2]
    urls = [fakeflickr.static_url(fake.base_url, p, '_o') for p in photos]
    f.schedule('500', count=2, target='file', path='/%s_' % photos[0].id)
    assert SESSION.get(urls[1]).status_code == 200, 'another file is left alone'
    assert [SESSION.get(urls[0]).status_code for _ in range(3)] == [500, 500, 200]
    f.schedule('503', count=2, target='api', method='flickr.people.getPhotos', params={'page': 2})
    assert post(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=5, page=1).status_code == 200
    assert post(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=5).status_code == 200
    assert post(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=5, page=2).status_code == 503
    assert post(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=5, page=3).status_code == 200
    assert post(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=5, page=2).status_code == 503
    assert post(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=5, page=2).status_code == 200
    assert fake.stats()['faults'] == {'500': 2, '503': 2}
    with pytest.raises(ValueError):
        f.schedule('500', params=['page'])
    f.update(schedule={'kind': '502', 'target': 'api', 'params': {'page': '9'}})
    assert f.as_dict()['scheduled'][0]['params'] == {'page': '9'}
    f.clear_schedule()

def test_latency_and_bandwidth(fake, token):
    # latency: the answer is held back, so a client that waits less for it gives up
    ph = pick(fake, lambda p: not p.is_video)
    url = fakeflickr.static_url(fake.base_url, ph, '_o')
    fake.faults.update(api_latency=1.0, file_latency=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(fake.base_url + '/services/rest/', data={'method': 'flickr.test.login', 'format': 'json'},
                      auth=OAuth1(fake.api_key, fake.api_secret, *token), timeout=(5, 0.2))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url, timeout=(5, 0.2))
    fake.faults.reset()
    # bandwidth: the file comes a piece at a time (half a second for it here), not at once
    data = fake.photo_file_bytes(ph.id)
    fake.faults.bandwidth = 2 * len(data)
    before = fake.stats()['file_bytes']
    with requests.get(url, stream=True, timeout=10) as r:
        first = r.raw.read(256)
        sent_then = fake.stats()['file_bytes'] - before
        body = first + r.raw.read()
    fake.faults.reset()
    assert body == data
    assert sent_then < len(data), 'the whole file was sent at once'


# -- mutations ----------------------------------------------------------------------

def test_replace_photo(fresh):
    tok = fresh.issue_token()
    ph = pick(fresh, lambda p: not p.is_video)
    before = ok(fresh, tok, 'flickr.photos.getInfo', photo_id=ph.id)['photo']
    old_url = fakeflickr.static_url(fresh.base_url, ph, '_o')
    old_q = fakeflickr.static_url(fresh.base_url, ph, '_q')
    old_bytes = SESSION.get(old_url).content
    fresh.replace_photo(ph.id)
    after = ok(fresh, tok, 'flickr.photos.getInfo', photo_id=ph.id)['photo']
    assert after['originalsecret'] != before['originalsecret'] and after['secret'] != before['secret']
    assert int(after['dates']['lastupdate']) > int(before['dates']['lastupdate'])
    assert SESSION.get(old_url).status_code == 404 and SESSION.get(old_q).status_code == 404
    new = SESSION.get(fakeflickr.static_url(fresh.base_url, ph, '_o'))
    assert new.status_code == 200 and new.content != old_bytes
    assert new.content == fresh.photo_file_bytes(ph.id)
    rec = ok(fresh, tok, 'flickr.photos.recentlyUpdated', min_date=str(ph.lastupdate),
             extras='last_update')['photos']['photo']
    assert [p['id'] for p in rec] == [ph.id]


def test_edit_photo_and_logical_clock(fresh):
    tok = fresh.issue_token()
    ph = pick(fresh, lambda p: True)
    stamps = []
    for n in range(3):                            # same wall-clock second: still increasing
        fresh.edit_photo(ph.id, title='T%d' % n, description='D', tags=['x y'])
        stamps.append(ph.lastupdate)
    assert stamps[0] < stamps[1] < stamps[2]
    info = ok(fresh, tok, 'flickr.photos.getInfo', photo_id=ph.id)['photo']
    assert info['title'] == {'_content': 'T2'} and info['dates']['lastupdate'] == str(stamps[2])
    assert info['tags']['tag'][0]['raw'] == 'x y' and info['tags']['tag'][0]['_content'] == 'xy'


def test_edit_photo_changes_its_licence_everywhere(fresh):
    tok = fresh.issue_token()
    ph = pick(fresh, lambda p: True)
    before = ph.lastupdate
    fresh.edit_photo(ph.id, license=8)
    assert ph.lastupdate > before
    assert ok(fresh, tok, 'flickr.photos.getInfo', photo_id=ph.id)['photo']['license'] == '8'
    assert listing_record(fresh, tok, ph.id, 'license')['license'] == '8'


def test_add_comment_changes_count_not_lastupdate(fresh):
    tok = fresh.issue_token()
    ph = pick(fresh, lambda p: True)
    last = ph.lastupdate

    def count():
        rows = ok(fresh, tok, 'flickr.people.getPhotos', user_id='me', per_page=500,
                  extras='count_comments,last_update')['photos']['photo']
        row = next(r for r in rows if r['id'] == ph.id)
        return int(row['count_comments']), row['lastupdate']
    n, _ = count()
    cid = fresh.add_comment(ph.id, 'Hello ☃')
    assert count() == (n + 1, str(last))
    comments = ok(fresh, tok, 'flickr.photos.comments.getList', photo_id=ph.id)['comments']['comment']
    assert comments[-1]['id'] == cid and comments[-1]['_content'] == 'Hello ☃'


def test_album_mutations(fresh):
    tok = fresh.issue_token()
    acct = fresh.account

    def sets():
        return {s['id']: s for s in ok(fresh, tok, 'flickr.photosets.getList')['photosets']['photoset']}
    aid = acct.album_order()[0]
    before = sets()[aid]
    fresh.rename_album(aid, 'Renamed / album')
    after = sets()[aid]
    assert after['title'] == {'_content': 'Renamed / album'}
    assert int(after['date_update']) > int(before['date_update'])
    new_order = list(reversed(acct.albums[aid].photo_ids))
    fresh.reorder_album(aid, new_order)
    got = ok(fresh, tok, 'flickr.photosets.getPhotos', photoset_id=aid)['photoset']['photo']
    assert [p['id'] for p in got] == new_order
    assert int(sets()[aid]['date_update']) > int(after['date_update'])
    outsider = next(i for i in acct.photos if i not in acct.albums[aid].photo_ids)
    fresh.add_to_album(aid, outsider)
    assert ok(fresh, tok, 'flickr.photosets.getPhotos', photoset_id=aid)['photoset']['photo'][-1]['id'] == outsider
    fresh.remove_from_album(aid, outsider)
    assert outsider not in acct.albums[aid].photo_ids
    new = fresh.create_album('Brand new', [outsider], description='d')
    assert list(sets())[0] == new and sets()[new]['primary'] == outsider
    in_collection = next(a for c in acct.iter_collections() for a in c.album_ids)
    fresh.delete_album(in_collection)
    assert in_collection not in sets()
    tree = json.dumps(ok(fresh, tok, 'flickr.collections.getTree'))
    assert in_collection not in tree
    assert api(fresh, tok, 'flickr.photosets.getPhotos', photoset_id=in_collection)['code'] == 1
    fresh.remove_from_album(new, outsider)          # last photo: the album goes away
    assert new not in sets()


def test_add_and_delete_photo(fresh):
    tok = fresh.issue_token()
    aid = fresh.account.album_order()[-1]
    pid = fresh.add_photo(media='photo', fmt='png', title='New one', albums=[aid])
    vid = fresh.add_photo(media='video', fmt='mov', title='New clip')
    stream, _ = walk_stream(fresh, tok, 500)
    assert stream[:2] == [vid, pid]
    assert re.fullmatch(r'\d{10,11}', pid)
    png_valid(SESSION.get(fakeflickr.static_url(fresh.base_url, fresh.account.photos[pid], '_o')).content)
    assert fresh.account.photos[vid].video_ext == 'mov' and fresh.photo_file_bytes(vid)[4:12] == b'ftypqt  '
    assert pid in fresh.account.albums[aid].photo_ids
    old = stream[-1]
    url = fakeflickr.static_url(fresh.base_url, fresh.account.photos[old], '_o')
    fresh.delete_photo(old)
    assert api(fresh, tok, 'flickr.photos.getInfo', photo_id=old)['code'] == 1
    assert old not in walk_stream(fresh, tok, 500)[0]
    assert SESSION.get(url).status_code == 404
    assert all(old not in a.photo_ids for a in fresh.account.albums.values())
    with pytest.raises(KeyError):
        fresh.delete_photo(old)


def test_collection_mutations(fresh):
    tok = fresh.issue_token()
    a1, a2 = fresh.account.album_order()[:2]
    ids = fresh.set_collections([
        {'title': 'Outer', 'collections': [{'title': 'Inner', 'sets': [a1, a2]}]},
        {'title': 'Empty', 'description': 'nothing'}])
    assert len(ids) == 3
    tree = ok(fresh, tok, 'flickr.collections.getTree')['collections']['collection']
    assert [c['title'] for c in tree] == ['Outer', 'Empty'] and 'set' not in tree[1]
    assert [s['id'] for s in tree[0]['collection'][0]['set']] == [a1, a2]
    fresh.rename_collection(ids[1], 'Inner renamed')
    tree = ok(fresh, tok, 'flickr.collections.getTree')['collections']['collection']
    assert tree[0]['collection'][0]['title'] == 'Inner renamed'
    fresh.delete_collection(ids[0])
    tree = ok(fresh, tok, 'flickr.collections.getTree')['collections']['collection']
    assert [c['title'] for c in tree] == ['Empty']


# -- control endpoint, CLI, concurrency -------------------------------------------------

def test_control_endpoint(fresh):
    base = fresh.base_url + '/_fake/'
    tok = requests.post(base + 'token', json={}).json()
    assert ok(fresh, (tok['oauth_token'], tok['oauth_token_secret']), 'flickr.test.login')
    stats = requests.get(base + 'stats').json()
    assert stats['api_calls'] == {'flickr.test.login': 1} and stats['api_total'] == 1
    assert requests.post(base + 'reset_stats').json() == {'stat': 'ok'}
    assert requests.get(base + 'stats').json()['api_total'] == 0
    faults = requests.post(base + 'faults', json={'api_latency': 0.01, 'schedule': {
        'kind': '503', 'target': 'api'}}).json()
    assert faults['api_latency'] == 0.01 and faults['scheduled'][0]['kind'] == '503'
    assert fresh.faults.api_latency == 0.01
    assert post(fresh, (tok['oauth_token'], tok['oauth_token_secret']), 'flickr.test.login').status_code == 503
    assert requests.post(base + 'faults', json={'bogus': 1}).status_code == 400
    pid = fresh.account.photostream_order()[0]
    r = requests.post(base + 'mutate', json={'action': 'edit_photo',
                                             'args': {'photo_id': pid, 'title': 'via http'}})
    assert r.status_code == 200 and r.json()['stat'] == 'ok'
    assert fresh.account.photos[pid].title == 'via http'
    r = requests.post(base + 'mutate', json={'action': 'add_comment',
                                             'args': {'photo_id': pid, 'text': 'hi'}})
    assert r.json()['result'] == fresh.account.photos[pid].comments[-1].id
    assert requests.post(base + 'mutate', json={'action': 'stop', 'args': {}}).status_code == 400
    assert requests.post(base + 'mutate', json={'action': 'delete_photo',
                                                'args': {'photo_id': '1'}}).status_code == 400
    info = requests.get(base + 'info').json()
    assert info['user_nsid'] == fresh.user_nsid and info['api_key'] == fresh.api_key



def test_client_reset_is_not_reported_as_a_server_error(fresh, capsys):
    import socket
    import struct
    host, port = fresh.base_url.split('//')[1].split(':')
    done = fresh.connections_done
    for _ in range(3):
        s = socket.create_connection((host, int(port)))
        s.sendall(b'GET /static/')                    # half a request line, then a reset
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
    wait_until(lambda: fresh.connections_done >= done + 3, 'the server to be done with the three')
    assert requests.get(fresh.base_url + '/nothing-here').status_code == 404
    assert 'Traceback' not in capsys.readouterr().err

def test_cli_serves_and_stops():
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), 'fakeflickr.py'),
                             '--photos', '30', '--videos', '2', '--albums', '3', '--collections', '2',
                             '--seed', '5', '--file-size', '3000', '--latency-ms', '1', '--port', '0',
                             '--no-hostile-names'], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith('FLICKR_API_BASE=http://127.0.0.1:')
        key = proc.stdout.readline().strip()
        assert key == 'FLICKR_API_KEY=fake-api-key'
        base = first.split('=', 1)[1]
        info = requests.get(base + '/_fake/info', timeout=5).json()
        assert info['photos'] == 32 and info['albums'] == 3
        assert (info['favorites'], info['galleries'], info['groups']) == (6, 3, 4)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_concurrent_keep_alive_clients(fake, token):
    errors = []

    def worker():
        s = requests.Session()
        try:
            for _ in range(10):
                ids, _ = walk_stream_with(s)
                assert ids == fake.account.photostream_order()
        except Exception as exc:                       # pragma: no cover
            errors.append(exc)

    def walk_stream_with(s):
        ids, page = [], 1
        while True:
            data = post(fake, token, 'flickr.people.getPhotos', session=s, user_id='me',
                        per_page=20, page=page).json()['photos']
            ids += [p['id'] for p in data['photo']]
            if page >= data['pages']:
                return ids, data
            page += 1
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# --- the real Flickr is not kind: quirks, faults, refusals ---

def sizes_of(fake, token, photo_id):
    return {s['label']: s for s in ok(fake, token, 'flickr.photos.getSizes',
                                       photo_id=photo_id)['sizes']['size']}


def videos_of(fake):
    return [p for p in fake.account.photos.values() if p.is_video]


def test_video_sizes_list_the_real_renditions(fake, token):
    ref = ET.parse(SAMPLES / 'flickr.photos.getSizes.video.2024.xml').getroot()
    ref_sizes = {s.get('label'): s for s in ref.iter('size')}
    heights_seen = set()
    for video in videos_of(fake):
        sizes = sizes_of(fake, token, video.id)
        labels = [label for label in sizes if sizes[label]['media'] == 'video']
        expected = ['Video Player', 'Site MP4', 'Mobile MP4', 'HD MP4', '1080p', '720p', '360p',
                    '288p', '700', 'iphone_wifi']
        if video.height < 1080:
            expected.remove('1080p')
        if video.height < 720:
            expected.remove('HD MP4')
            expected.remove('720p')
        assert [label for label in labels if label != 'Video Original'] == expected
        renditions = fake.video_renditions(video.id)
        assert [r[0] for r in renditions] == expected[1:]
        with_dims = [(label, h) for label, w, h in renditions if h is not None]
        assert len({h for _, h in with_dims}) == len(with_dims), with_dims
        assert 'Site MP4' in dict(with_dims)
        heights_seen |= {h for _, h in with_dims}
        for label, w, h in renditions:
            assert sizes[label]['width'] == ('' if w is None else str(w))
            assert sizes[label]['height'] == ('' if h is None else str(h))
            assert max(w or 0, h or 0) <= max(video.width, video.height)
        for label in ('700', 'iphone_wifi'):
            assert ref_sizes[label].get('width') == '' and ref_sizes[label].get('height') == ''
            assert sizes[label]['source'].endswith('/play/%s/%s/' % (label, video.secret))
        best = tallest_rendition(renditions)
        if not video.video_original_available:
            assert fake.best_file(video.id)[0] == best and fake.best_file(video.id)[2] == 'mp4'
        # every rendition downloads through its own play URL, with its own bytes
        seen = set()
        for label, _w, _h in renditions:
            first = SESSION.get(sizes[label]['source'], allow_redirects=False)
            assert first.status_code == 302 and '/video/%s/' % video.id in first.headers['Location']
            r = SESSION.get(sizes[label]['source'])
            assert r.status_code == 200 and r.headers['Content-Type'] == 'video/mp4'
            assert r.content == fake.rendition_bytes(video.id, label) and r.content[4:8] == b'ftyp'
            seen.add(r.content)
        assert len(seen) == len(renditions)
    assert len(heights_seen) >= 3, 'the generated videos should have several sizes'
    xml = post(fake, token, 'flickr.photos.getSizes', photo_id=videos_of(fake)[0].id,
               format='rest').text
    node = next(s for s in ET.fromstring(xml).iter('size') if s.get('label') == '700')
    assert set(node.attrib) == set(ref_sizes['700'].attrib) and node.get('width') == ''


def tallest_rendition(renditions):
    """The label of the tallest of [(label, width, height)]: its height where given, else the
    height its stream label stands for; ties to the label earlier in the table."""
    table = list(fakeflickr.RENDITION_NOMINAL_HEIGHT)
    return max(renditions, key=lambda r: (int(r[2] or 0) or fakeflickr.RENDITION_NOMINAL_HEIGHT[r[0]],
                                          -table.index(r[0])))[0]


def test_video_originals_404_mode(fresh):
    token = fresh.issue_token()
    fresh.faults.update(video_originals='404')
    for video in videos_of(fresh):
        sizes = sizes_of(fresh, token, video.id)
        orig = sizes['Video Original']['source']
        assert orig == '%s/photos/%s/%s/play/orig/%s/' % (fresh.base_url, fresh.user_nsid, video.id,
                                                         video.originalsecret)
        r = SESSION.get(orig)
        assert r.status_code == 404 and r.headers['Content-Type'].startswith('text/html')
        label, data, ext = fresh.best_file(video.id)
        assert label not in ('Video Original', 'Video Player') and ext == 'mp4'
        assert label == tallest_rendition(fresh.video_renditions(video.id))
        got = SESSION.get(sizes[label]['source'])
        assert got.status_code == 200 and got.content == data == fresh.photo_file_bytes(video.id)
        assert data != fresh.video_file_bytes(video.id, 'orig')
    assert any(v.video_original_available for v in videos_of(fresh)), 'refused even when offered'


def test_video_originals_login_mode(fresh):
    token = fresh.issue_token()
    fresh.faults.update(video_originals='login')
    video = videos_of(fresh)[0]
    orig = sizes_of(fresh, token, video.id)['Video Original']['source']
    first = SESSION.get(orig, allow_redirects=False)
    assert first.status_code == 302 and '/signin/?acf=' in first.headers['Location']
    r = SESSION.get(orig)
    assert r.status_code == 200 and r.headers['Content-Type'].startswith('text/html')
    assert urlparse(r.url).path == '/signin/' and '<form' in r.text and 'password' in r.text
    assert fresh.best_file(video.id)[0] != 'Video Original'


def test_video_originals_offered_later(fresh):
    token = fresh.issue_token()
    fresh.faults.update(video_originals='login')
    listed = {v.id: sizes_of(fresh, token, v.id)['Video Original']['source'] for v in videos_of(fresh)}
    renditions = {v.id: fresh.photo_file_bytes(v.id) for v in videos_of(fresh)}
    r = requests.post(fresh.base_url + '/_fake/faults', json={'video_originals': 'offered'})
    assert r.status_code == 200 and fresh.faults.video_originals == 'offered'
    for i, video in enumerate(videos_of(fresh)):
        if i % 2:
            fresh.offer_video_original(video.id)
        else:
            r = requests.post(fresh.base_url + '/_fake/mutate', json={
                'action': 'offer_video_original', 'args': {'photo_id': video.id}})
            assert r.status_code == 200
        assert video.video_original_available
        got = SESSION.get(listed[video.id])
        label, data, ext = fresh.best_file(video.id)
        assert (label, ext) == ('Video Original', video.video_ext)
        assert got.status_code == 200 and got.content == data != renditions[video.id]
        assert got.headers['Content-Type'] == {'mp4': 'video/mp4', 'mov': 'video/quicktime'}[ext]
    fresh.offer_video_original(videos_of(fresh)[0].id, available=False)
    assert SESSION.get(listed[videos_of(fresh)[0].id]).status_code == 404
    assert requests.post(fresh.base_url + '/_fake/faults',
                         json={'video_originals': 'sometimes'}).status_code == 400
    with pytest.raises(ValueError):
        fresh.offer_video_original(pick(fresh, lambda p: not p.is_video).id)


def page_of(fake, token, page, per_page, method='flickr.people.getPhotos', **params):
    if method == 'flickr.people.getPhotos':
        params.setdefault('user_id', 'me')
        data = ok(fake, token, method, page=page, per_page=per_page, **params)['photos']
    else:
        data = ok(fake, token, method, page=page, per_page=per_page, **params)['photoset']
    return data, [p['id'] for p in data['photo']]


def test_short_pages_at_a_rate(fake, token):
    fake.faults.update(short_page_rate=0.5, fault_seed=3)
    order = fake.account.photostream_order()
    pages = -(-len(order) // 10)
    shorts = 0
    for page in range(1, pages + 1):
        whole = order[(page - 1) * 10: page * 10]
        for attempt in range(60):                 # a walker that re-requests short pages
            data, ids = page_of(fake, token, page, 10)
            assert (data['page'], data['pages'], data['perpage'], data['total']) == (
                page, pages, 10, str(len(order)))
            assert [i for i in whole if i in ids] == ids, 'a short page keeps the order'
            if ids == whole:
                break
            assert page < pages, 'the last page is never short'
            assert len(whole) // 2 <= len(ids) < len(whole)
            shorts += 1
        else:
            pytest.fail('page %d never came back whole' % page)
    assert shorts >= 2 and fake.stats()['faults']['short'] >= shorts
    for _ in range(10):
        assert page_of(fake, token, pages, 10)[1] == order[(pages - 1) * 10:]
    album = max(fake.account.albums.values(), key=lambda a: len(a.photo_ids))
    fake.faults.update(short_page_rate=1.0)
    data, ids = page_of(fake, token, 1, 2, 'flickr.photosets.getPhotos', photoset_id=album.id)
    assert len(ids) == 1 and ids[0] in album.photo_ids[:2]
    assert (data['page'], data['per_page'], data['perpage'], data['total']) == (
        1, 2, 2, str(len(album.photo_ids)))
    assert data['pages'] == -(-len(album.photo_ids) // 2)
    fake.faults.update(short_page_rate=0.0)
    assert page_of(fake, token, 1, 2, 'flickr.photosets.getPhotos', photoset_id=album.id)[1] \
        == album.photo_ids[:2]
    assert len(ok(fake, token, 'flickr.photos.recentlyUpdated', per_page=10,
                  min_date=0)['photos']['photo']) == 10, 'only the two listings shorten'


def test_scheduled_short_pages(fake, token):
    order = fake.account.photostream_order()
    f = fake.faults
    f.schedule('short', count=10 ** 6, method='flickr.people.getPhotos', params={'page': 2})
    for _ in range(8):                              # "for ever"
        assert len(page_of(fake, token, 2, 10)[1]) < 10
        assert page_of(fake, token, 1, 10)[1] == order[:10]
    assert fake.stats()['faults']['short'] >= 8
    f.clear_schedule()
    assert page_of(fake, token, 2, 10)[1] == order[10:20]
    # other methods do not use a scheduled short page up; the last page uses it, stays whole
    f.schedule('short', count=1)
    ok(fake, token, 'flickr.test.login')
    assert len(page_of(fake, token, 3, 10)[1]) < 10
    assert page_of(fake, token, 3, 10)[1] == order[20:30]
    f.schedule('short', count=1, method='flickr.people.getPhotos')
    last = -(-len(order) // 10)
    assert page_of(fake, token, last, 10)[1] == order[(last - 1) * 10:]
    assert page_of(fake, token, 1, 10)[1] == order[:10] and not f.as_dict()['scheduled']
    r = requests.post(fake.base_url + '/_fake/faults', json={'schedule': {
        'kind': 'short', 'method': 'flickr.photosets.getPhotos'}})
    assert r.status_code == 200
    album = max(fake.account.albums.values(), key=lambda a: len(a.photo_ids))
    assert len(page_of(fake, token, 1, 2, 'flickr.photosets.getPhotos', photoset_id=album.id)[1]) == 1


def test_scheduled_mutation_shifts_offset_pages(fresh):
    token = fresh.issue_token()
    order = fresh.account.photostream_order()
    assert len(order) > 10
    fresh.faults.schedule_mutation('delete_photo', {'photo_id': order[0]},
                                   method='flickr.people.getPhotos', params={'page': 2})
    first = page_of(fresh, token, 1, 5)
    second = page_of(fresh, token, 2, 5)
    assert first[1] == order[:5] and first[0]['total'] == str(len(order))
    assert second[1] == order[6:11] and second[0]['total'] == str(len(order) - 1)
    assert order[0] not in fresh.account.photos
    seen = set(first[1] + second[1])
    assert order[5] not in seen and order[5] in fresh.account.photos, 'a naive walker misses it'
    assert fresh.mutation_log == [{'action': 'delete_photo', 'args': {'photo_id': order[0]},
                                   'result': None}]
    assert page_of(fresh, token, 2, 5)[1] == order[6:11], 'it ran once'
    # an upload mid-walk, over HTTP: page 2 repeats the end of page 1
    order = fresh.account.photostream_order()
    r = requests.post(fresh.base_url + '/_fake/faults', json={'schedule_mutation': {
        'action': 'add_photo', 'args': {'title': 'mid-walk'}, 'method': 'flickr.people.getPhotos',
        'params': {'page': 2}}})
    assert r.status_code == 200 and r.json()['scheduled_mutations'][0]['action'] == 'add_photo'
    assert page_of(fresh, token, 1, 5)[1] == order[:5]
    assert page_of(fresh, token, 2, 5)[1] == order[4:9]
    new_id = fresh.mutation_log[-1]['result']
    assert fresh.account.photostream_order()[0] == new_id
    r = requests.post(fresh.base_url + '/_fake/schedule_mutation', json={
        'action': 'delete_photo', 'args': {'photo_id': new_id}, 'method': 'flickr.photos.getInfo'})
    assert r.status_code == 200
    ok(fresh, token, 'flickr.test.login')
    assert new_id in fresh.account.photos
    assert api(fresh, token, 'flickr.photos.getInfo', photo_id=new_id)['code'] == 1
    assert new_id not in fresh.account.photos
    fresh.faults.schedule_mutation('delete_photo', {'photo_id': 'nope'})
    ok(fresh, token, 'flickr.test.login')
    assert fresh.mutation_log[-1]['error'].startswith('KeyError')
    assert requests.post(fresh.base_url + '/_fake/schedule_mutation',
                         json={'action': 'stop'}).status_code == 400


def test_code_201_in_json_and_xml(fake, token):
    url = fakeflickr.static_url(fake.base_url, pick(fake, lambda p: not p.is_video), '_o')
    fake.faults.update(fail_201_rate=1.0)
    ref = sample('error.photo_not_found.json')
    got = api(fake, token, 'flickr.people.getPhotos', user_id='me')
    assert got == {'stat': 'fail', 'code': 201,
                   'message': 'Sorry, the Flickr API service is not currently available.'}
    assert set(got) == set(ref) and type(got['code']) is type(ref['code'])
    r = post(fake, token, 'flickr.test.login', format='rest')
    assert r.status_code == 200 and r.headers['Content-Type'] == 'text/xml; charset=utf-8'
    # byte for byte what Flickr-Foundation/flickr-photos-api recorded (test_retries_error_code_201)
    assert r.text == ('<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="fail">\n\t<err code="201" '
                      'msg="Sorry, the Flickr API service is not currently available." />\n</rsp>\n')
    assert SESSION.get(url).status_code == 200, '201 never hits files'
    fake.faults.reset()
    fake.faults.schedule('201', count=2, method='flickr.photos.getInfo')
    ph = pick(fake, lambda p: not p.is_video)
    assert ok(fake, token, 'flickr.test.login')
    assert [api(fake, token, 'flickr.photos.getInfo', photo_id=ph.id)['stat'] for _ in range(3)] == [
        'fail', 'fail', 'ok']
    fake.faults.update(fail_201_rate=0.3, fault_seed=5)
    codes = [api(fake, token, 'flickr.test.login').get('code') for _ in range(40)]
    assert 201 in codes and None in codes
    assert fake.stats()['faults']['201'] >= 2 + codes.count(201)


def test_placeholder_for_originals(fake, token):
    photos = ok(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=500,
                extras='url_o,url_q,media')['photos']['photo']
    photo = next(p for p in photos if p['media'] == 'photo')
    video = next(p for p in photos if p['media'] == 'video')
    fake.faults.update(placeholder_rate=1.0)
    first = SESSION.get(photo['url_o'], allow_redirects=False)
    assert first.status_code == 302
    assert first.headers['Location'] == fake.base_url + '/images/photo_unavailable.gif'
    r = SESSION.get(photo['url_o'])
    assert r.status_code == 200 and r.headers['Content-Type'] == 'image/gif'
    assert r.url.endswith('/images/photo_unavailable.gif') and gif_valid(r.content)
    dims = (int.from_bytes(r.content[6:8], 'little'), int.from_bytes(r.content[8:10], 'little'))
    assert dims == (500, 375)
    assert all(dims != (p.width, p.height) for p in fake.account.photos.values())
    assert SESSION.get(photo['url_q']).headers['Content-Type'] == 'image/jpeg', 'only originals'
    assert SESSION.get(video['url_o']).status_code == 200, 'not a video still frame'
    fake.faults.reset()
    fake.faults.schedule('placeholder', count=1)
    assert SESSION.get(photo['url_q']).status_code == 200, 'waits for an original'
    assert SESSION.get(photo['url_o'], allow_redirects=False).status_code == 302
    got = SESSION.get(photo['url_o'])
    assert got.status_code == 200 and got.content == fake.photo_file_bytes(photo['id'])
    fake.faults.update(placeholder_rate=0.2, fault_seed=9)
    statuses = [SESSION.get(photo['url_o'], allow_redirects=False).status_code for _ in range(40)]
    assert 302 in statuses and 200 in statuses


def test_file_429_with_and_without_retry_after(fake, token):
    ph = pick(fake, lambda p: not p.is_video)
    url = fakeflickr.static_url(fake.base_url, ph, '_o')
    video = pick(fake, lambda p: p.is_video)
    play = fakeflickr.play_url(fake.base_url, fake.account, video, 'site')
    fake.faults.update(file_429_rate=1.0, file_retry_after='always', retry_after=3)
    for u in (url, play):
        r = SESSION.get(u)
        assert r.status_code == 429 and r.headers['Retry-After'] == '3'
    assert ok(fake, token, 'flickr.test.login'), 'the API is not hit'
    fake.faults.update(file_retry_after='never')
    r = SESSION.get(url)
    assert r.status_code == 429 and 'Retry-After' not in r.headers
    fake.faults.update(file_retry_after='mixed', fault_seed=4)
    headers = ['Retry-After' in SESSION.get(url).headers for _ in range(30)]
    assert True in headers and False in headers
    fake.faults.update(file_429_rate=0.3)
    statuses = [SESSION.get(url).status_code for _ in range(40)]
    assert 429 in statuses and 200 in statuses
    assert requests.post(fake.base_url + '/_fake/faults',
                         json={'file_retry_after': 'sometimes'}).status_code == 400
    fake.faults.reset()
    fake.faults.schedule('file_429', count=1)
    assert ok(fake, token, 'flickr.test.login')
    assert SESSION.get(url).status_code == 429 and SESSION.get(url).status_code == 200


@pytest.fixture
def quirky():
    with fakeflickr.FakeFlickr(seed=11, photos=40, videos=6, albums=3, collections=2,
                               file_size=4_000, quirks=True) as f:
        yield f


def quirk_sets(fake):
    photos = fake.account.photos.values()
    return ({p.id for p in photos if p.no_original}, {p.id for p in photos if p.no_originalformat},
            {p.id for p in photos if p.zero_datetaken})


def test_quirks_are_deterministic_and_about_as_common_as_asked(quirky):
    no_orig, no_fmt, zero = quirk_sets(quirky)
    photos = [p for p in quirky.account.photos.values() if not p.is_video]
    videos = [p for p in quirky.account.photos.values() if p.is_video]
    assert 1 <= len(no_orig) <= len(photos) // 4 and 1 <= len(no_fmt) <= len(photos) // 4
    assert not no_orig & no_fmt
    assert all(not quirky.account.photos[i].is_video for i in no_orig | no_fmt)
    assert {quirky.account.photos[i].originalformat for i in no_fmt} & {'png', 'gif'}
    assert 1 <= len(zero) < len(videos) and zero <= {v.id for v in videos}
    again = fakeflickr.FakeFlickr(seed=11, photos=40, videos=6, albums=3, collections=2, quirks=True)
    assert quirk_sets(again) == (no_orig, no_fmt, zero)
    plain = fakeflickr.FakeFlickr(seed=11, photos=40, videos=6, albums=3, collections=2)
    assert quirk_sets(plain) == (set(), set(), set())
    assert [p.datetaken for p in plain.account.photos.values()] == [
        p.datetaken for p in quirky.account.photos.values()]


def test_quirks_in_listings_getinfo_and_getsizes(quirky):
    token = quirky.issue_token()
    no_orig, no_fmt, zero = quirk_sets(quirky)
    listed = {p['id']: p for p in ok(quirky, token, 'flickr.people.getPhotos', user_id='me',
                                     per_page=500, extras=ALL_EXTRAS)['photos']['photo']}
    original_keys = {'url_o', 'height_o', 'width_o', 'o_width', 'o_height', 'originalsecret',
                     'originalformat'}
    for pid, rec in listed.items():
        photo = quirky.account.photos[pid]
        info = ok(quirky, token, 'flickr.photos.getInfo', photo_id=pid)['photo']
        if pid in no_orig:
            assert not original_keys & set(rec) and 'url_q' in rec
            assert 'originalsecret' not in info and 'originalformat' not in info
            sizes = sizes_of(quirky, token, pid)
            assert 'Original' not in sizes
            assert SESSION.get(fakeflickr.static_url(quirky.base_url, photo, '_o')).status_code == 404
            label, data, ext = quirky.best_file(pid)
            assert ext == 'jpg' and label == max(sizes, key=lambda k: max(
                int(sizes[k]['width']), int(sizes[k]['height'])))
            got = SESSION.get(sizes[label]['source'])
            assert got.status_code == 200 and got.content == data == quirky.photo_file_bytes(pid)
        elif pid in no_fmt:
            assert 'originalformat' not in rec and 'originalformat' not in info
            assert rec['originalsecret'] == info['originalsecret'] == photo.originalsecret
            assert rec['url_o'].endswith('_o.' + photo.originalformat)
            assert SESSION.get(rec['url_o']).content == quirky.photo_file_bytes(pid)
            assert 'Original' in sizes_of(quirky, token, pid)
        else:
            assert original_keys <= set(rec) and info['originalformat'] == photo.originalformat
        if pid in zero:
            assert (rec['datetaken'], rec['datetakenunknown']) == ('0000-00-00 00:00:00', '0')
            assert (info['dates']['taken'], info['dates']['takenunknown']) == (
                '0000-00-00 00:00:00', '0')
        else:
            assert rec['datetaken'] == info['dates']['taken'] == photo.datetaken
    assert set(listed) == set(quirky.account.photos)
    album = next(iter(quirky.account.albums.values()))
    recs = ok(quirky, token, 'flickr.photosets.getPhotos', photoset_id=album.id,
              extras='url_o,original_format')['photoset']['photo']
    assert recs and all(('url_o' in r) is (r['id'] not in no_orig) for r in recs)


def test_set_quirks_mutation(fresh):
    token = fresh.issue_token()
    photo = pick(fresh, lambda p: not p.is_video)
    video = pick(fresh, lambda p: p.is_video)
    before = photo.lastupdate
    r = requests.post(fresh.base_url + '/_fake/mutate', json={'action': 'set_quirks', 'args': {
        'photo_id': photo.id, 'no_original': True}})
    assert r.status_code == 200 and photo.no_original and photo.lastupdate == before
    assert 'Original' not in sizes_of(fresh, token, photo.id)
    assert fresh.best_file(photo.id)[0] != 'Original'
    fresh.set_quirks(photo.id, no_original=False, no_originalformat=True)
    assert 'Original' in sizes_of(fresh, token, photo.id)
    info = ok(fresh, token, 'flickr.photos.getInfo', photo_id=photo.id)['photo']
    assert 'originalformat' not in info and info['originalsecret'] == photo.originalsecret
    fresh.set_quirks(video.id, zero_datetaken=True)
    assert ok(fresh, token, 'flickr.photos.getInfo', photo_id=video.id)['photo']['dates']['taken'] \
        == '0000-00-00 00:00:00'
    fresh.set_quirks(video.id, zero_datetaken=False)
    assert ok(fresh, token, 'flickr.photos.getInfo', photo_id=video.id)['photo']['dates']['taken'] \
        == video.datetaken
    with pytest.raises(ValueError):
        fresh.set_quirks(video.id, no_original=True)


def resilient(fake, token, method, **params):
    """A REST call retried through 201s and 429s, as a resilient client would."""
    for _ in range(40):
        r = post(fake, token, method, **params)
        if r.status_code == 200:
            data = r.json()
            if data['stat'] == 'ok' or data['code'] not in (201, 105):
                return data
    pytest.fail('%s never succeeded' % method)


def resilient_get(url, family):
    """A file download retried through 429s and placeholders; None if it ends elsewhere."""
    for _ in range(40):
        r = SESSION.get(url)
        if r.status_code == 429 or r.url.endswith('/images/photo_unavailable.gif'):
            continue
        if r.status_code != 200 or not r.headers['Content-Type'].startswith(family):
            return None
        return r.content
    pytest.fail('%s never came' % url)


def test_realistic_profile_is_survivable(quirky):
    token = quirky.issue_token()
    r = requests.post(quirky.base_url + '/_fake/faults', json={'realistic': True, 'fault_seed': 8})
    assert r.status_code == 200
    assert {k: r.json()[k] for k in fakeflickr.REALISTIC} == fakeflickr.REALISTIC
    assert quirky.faults.video_originals == 'login' and quirky.faults.fault_seed == 8
    order, page, per_page = quirky.account.photostream_order(), 1, 7
    records = []
    while True:                                      # re-request short pages
        for _ in range(40):
            data = resilient(quirky, token, 'flickr.people.getPhotos', user_id='me', page=page,
                             per_page=per_page, extras='url_o,media,original_format')['photos']
            if len(data['photo']) == min(per_page, int(data['total']) - (page - 1) * per_page):
                break
        records += data['photo']
        if page >= data['pages']:
            break
        page += 1
    assert [p['id'] for p in records] == order
    for rec in records:
        label, want, ext = quirky.best_file(rec['id'])
        if rec['media'] == 'photo' and 'url_o' in rec:
            assert label == 'Original' and resilient_get(rec['url_o'], 'image/') == want
            continue
        sizes = resilient(quirky, token, 'flickr.photos.getSizes', photo_id=rec['id'])['sizes']['size']
        if rec['media'] == 'video':
            orig = next(s for s in sizes if s['label'] == 'Video Original')
            assert resilient_get(orig['source'], 'video/') is None, 'refused: a sign-in page'
            label_of = tallest_rendition([(s['label'], s['width'], s['height']) for s in sizes
                                          if s['media'] == 'video'
                                          and s['label'] not in ('Video Player', 'Video Original')])
            best = next(s for s in sizes if s['label'] == label_of)
            family = 'video/'
        else:
            best = max(sizes, key=lambda s: max(int(s['width']), int(s['height'])))
            family = 'image/'
        assert best['label'] == label and resilient_get(best['source'], family) == want
    faults = quirky.stats()['faults']
    assert sum(faults.values()) >= 3, faults


def test_realistic_faults_are_deterministic_under_the_seed(quirky):
    token = quirky.issue_token()
    photo = pick(quirky, lambda p: not p.is_video and not p.no_original)
    url = fakeflickr.static_url(quirky.base_url, photo, '_o')

    def run():
        seq = []
        for _ in range(25):
            data = api(quirky, token, 'flickr.people.getPhotos', user_id='me', per_page=10)
            seq.append(('list', data.get('code'), len(data.get('photos', {}).get('photo', []))))
            r = SESSION.get(url, allow_redirects=False)
            seq.append(('file', r.status_code, r.headers.get('Retry-After')))
        return seq
    quirky.faults.update(realistic=True, fault_seed=13)
    first = run()
    quirky.faults.update(fault_seed=13)
    assert run() == first
    assert first != [(k, None, 10) if k == 'list' else (k, 200, None) for k, *_ in first]
    quirky.faults.update(fault_seed=14)
    assert run() != first


@pytest.mark.slow
def test_cli_realistic_and_switches():
    script = os.path.join(os.path.dirname(__file__), 'fakeflickr.py')
    common = [sys.executable, script, '--photos', '30', '--videos', '4', '--albums', '2',
              '--collections', '1', '--file-size', '3000', '--port', '0']
    for extra, want, quirks in (
            (['--realistic'], dict(fakeflickr.REALISTIC), True),
            (['--realistic', '--short-page-rate', '0.3', '--fault-seed', '5'],
             dict(fakeflickr.REALISTIC, short_page_rate=0.3, fault_seed=5), True),
            (['--video-originals', '404', '--fail-201-rate', '0.2', '--placeholder-rate', '0.1',
              '--file-429-rate', '0.4', '--file-retry-after', 'never', '--quirks'],
             dict(video_originals='404', fail_201_rate=0.2, placeholder_rate=0.1,
                  file_429_rate=0.4, file_retry_after='never', hourly_limit=0), True),
            (['--free-account', '--cdn-403-rate', '0.25', '--cdn-403-burst', '5', '--path-alias',
              'zoe'], dict(free_account=True, cdn_403_rate=0.25, cdn_403_burst=5), False),
            ([], dict(video_originals='offered', short_page_rate=0.0, hourly_limit=0,
                      free_account=False), False)):
        proc = subprocess.Popen(common + extra, stdout=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline().strip()
            assert first.startswith('FLICKR_API_BASE=http://127.0.0.1:')
            base = first.split('=', 1)[1]
            faults = requests.get(base + '/_fake/faults', timeout=5).json()
            assert {k: faults[k] for k in want} == want
            info = requests.get(base + '/_fake/info', timeout=5).json()
            counts = info['quirks']
            assert (min(counts.values()) >= 1) is quirks, counts
            assert info['path_alias'] == ('zoe' if '--path-alias' in extra else None)
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


# -- free account (Flickr's 1024 px limit since 15 May 2025) ----------------------------------

def test_free_account_limits_own_photos_past_1024(fresh):
    token = fresh.issue_token()
    big = [p for p in fresh.account.photos.values() if not p.is_video and max(p.width, p.height) > 1024]
    small = [p for p in fresh.account.photos.values() if not p.is_video and max(p.width, p.height) <= 1024]
    video = next(p for p in fresh.account.photos.values() if p.is_video)
    assert big and small
    extras = 'url_l,url_h,url_k,url_o,o_dims,original_format,media'
    before = {p['id']: p for p in ok(fresh, token, 'flickr.people.getPhotos', user_id='me',
                                      per_page=500, extras=extras)['photos']['photo']}
    assert ok(fresh, token, 'flickr.people.getInfo', user_id='me')['person']['ispro'] == 1
    assert all('url_o' in before[p.id] for p in big + small)
    old_o = {p.id: before[p.id]['url_o'] for p in big}
    old_k = {p.id: before[p.id]['url_k'] for p in big if 'url_k' in before[p.id]}
    assert old_k, 'some big photo has a Large 2048'

    assert requests.post(fresh.base_url + '/_fake/faults', json={'free_account': True}).ok
    assert ok(fresh, token, 'flickr.people.getInfo', user_id='me')['person']['ispro'] == 0
    listing = {p['id']: p for p in ok(fresh, token, 'flickr.people.getPhotos', user_id='me',
                                       per_page=500, extras=extras)['photos']['photo']}
    album = next(iter(fresh.account.albums.values()))
    in_album = ok(fresh, token, 'flickr.photosets.getPhotos', photoset_id=album.id,
                  extras=extras)['photoset']['photo']
    for rec in list(listing.values()) + in_album:
        ph = fresh.account.photos[rec['id']]
        if ph in big:
            assert not {'url_o', 'url_h', 'url_k', 'width_o', 'height_o', 'width_k'} & set(rec), rec
            assert max(int(rec['width_l']), int(rec['height_l'])) == 1024
            assert rec['originalsecret'] == ph.originalsecret and rec['o_width'] == str(ph.width)
        else:
            assert 'url_o' in rec, rec
    for ph in big:
        labels = list(sizes_of(fresh, token, ph.id))
        assert labels[-1] == 'Large' and 'Original' not in labels and 'Large 1600' not in labels
        for url in (old_o[ph.id], old_k.get(ph.id)):
            if url:
                r = SESSION.get(url)
                assert r.status_code == 403 and r.headers['Content-Type'].startswith('text/html')
                assert b'<html' in r.content.lower()
        b = SESSION.get(fakeflickr.static_url(fresh.base_url, ph, '_b'))
        assert b.status_code == 200 and jpeg_valid(b.content)
        assert fresh.best_file(ph.id) == ('Large', b.content, 'jpg')
    for ph in small:
        r = SESSION.get(listing[ph.id]['url_o'])
        assert r.status_code == 200 and r.content == fresh.best_file(ph.id)[1]
        assert fresh.best_file(ph.id)[0] == 'Original'
        assert 'Original' in sizes_of(fresh, token, ph.id)
    video_sizes = sizes_of(fresh, token, video.id)
    assert 'Original' in video_sizes and 'Video Original' in video_sizes
    fresh.faults.update(free_account=False)
    assert SESSION.get(old_o[big[0].id]).status_code == 200
    assert fresh.best_file(big[0].id)[0] == 'Original'


# -- CDN 403 bursts on photo originals (markdoliner/flickrmirrorer PR #25) ---------------------

def test_cdn_403_bursts_on_originals_and_retry_succeeds(fake, token):
    photo = pick(fake, lambda p: not p.is_video and not p.no_original)
    other = pick(fake, lambda p: not p.is_video and p.id != photo.id)
    video = pick(fake, lambda p: p.is_video)
    url = fakeflickr.static_url(fake.base_url, photo, '_o')
    fake.faults.update(cdn_403_rate=1.0)
    r = SESSION.get(url)
    assert r.status_code == 403 and r.headers['Content-Type'].startswith('text/html')
    assert b'403 Forbidden' in r.content
    assert SESSION.get(fakeflickr.static_url(fake.base_url, photo, '_q')).status_code == 200
    assert SESSION.get(fakeflickr.static_url(fake.base_url, video, '_o')).status_code == 200
    assert ok(fake, token, 'flickr.test.login')
    fake.faults.reset()
    before = fake.stats()['faults'].get('cdn_403', 0)
    # bursts: a hit makes the next _o requests (any photo) 403 too, up to cdn_403_burst in all
    fake.faults.update(cdn_403_rate=0.15, cdn_403_burst=4, fault_seed=3)
    statuses = [SESSION.get(url if i % 2 else fakeflickr.static_url(fake.base_url, other, '_o')).status_code
                for i in range(200)]
    assert set(statuses) == {200, 403}
    runs, n = [], 0
    for st in statuses + [200]:
        if st == 403:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    assert max(runs) > 1, 'bursts, not lone 403s'
    assert max(runs) <= 4 * 3, 'bursts end (back-to-back bursts at most)'
    assert fake.stats()['faults']['cdn_403'] - before == statuses.count(403)
    good = SESSION.get(url)
    while good.status_code == 403:
        good = SESSION.get(url)
    assert good.content == fake.photo_file_bytes(photo.id)

    def run():
        fake.faults.reset()
        fake.faults.update(cdn_403_rate=0.3, fault_seed=11)
        return [SESSION.get(url).status_code for _ in range(30)]
    assert run() == run(), 'deterministic under fault_seed'
    fake.faults.reset()
    fake.faults.schedule('cdn_403', count=2, path='/%s_' % photo.id)
    assert SESSION.get(fakeflickr.static_url(fake.base_url, photo, '_q')).status_code == 200
    assert SESSION.get(fakeflickr.static_url(fake.base_url, other, '_o')).status_code == 200
    assert [SESSION.get(url).status_code for _ in range(3)] == [403, 403, 200]
    assert requests.post(fake.base_url + '/_fake/faults',
                         json={'schedule': {'kind': 'cdn_403'}}).ok
    assert SESSION.get(url).status_code == 403 and SESSION.get(url).status_code == 200


# -- the data export ----------------------------------------------------------------------------

import zipfile  # noqa: E402

META_FILES = {'account_profile.json', 'albums.json', 'contacts_part001.json',
              'followers_part001.json', 'faves_part001.json', 'galleries.json',
              'group_discussions.json', 'groups.json', 'photos_comments_part001.json',
              'sets_comments_part001.json', 'received_flickrmail_part001.json',
              'sent_flickrmail_part001.json', 'account_testimonials.json'}
PHOTO_KEYS = ['id', 'name', 'description', 'count_views', 'count_faves', 'count_comments',
              'date_taken', 'date_imported', 'photopage', 'original', 'license', 'geo', 'groups',
              'albums', 'tags', 'people', 'notes', 'privacy', 'comment_permissions',
              'tagging_permissions', 'safety', 'comments']
# The reader's rule, written here independently of fakeflickr.export_id_of.
ID_RULE = re.compile(r'(\d+)(?:_o)?\.[^._]+$')


def zip_members(path):
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {info.filename: zf.read(info) for info in zf.infolist()}


def served_original(fake, ph):
    """The true original as the fake serves it over HTTP with every switch off."""
    if ph.is_video:
        if not ph.video_original_available:
            return fake.video_file_bytes(ph.id, 'orig')
        url = fakeflickr.play_url(fake.base_url, fake.account, ph, 'orig')
    else:
        url = fakeflickr.static_url(fake.base_url, ph, '_o')
    r = SESSION.get(url)
    assert r.status_code == 200, url
    return r.content


@pytest.fixture
def exporter():
    with fakeflickr.FakeFlickr(seed=5, photos=23, videos=4, albums=4, collections=1,
                               file_size=3_000) as f:
        yield f


def test_export_holds_every_original_once_with_the_served_bytes(exporter, tmp_path):
    fake = exporter
    fake.edit_photo(pick(fake, lambda p: not p.is_video).id, title='20150612_153012')
    fake.edit_photo(pick(fake, lambda p: p.is_video).id, title='Clip 2019')
    truth = {pid: served_original(fake, ph) for pid, ph in fake.account.photos.items()}
    fake.faults.update(free_account=True, video_originals='404')     # the export does not care
    m = fake.write_export(tmp_path / 'new', files_per_zip=7)
    assert re.fullmatch(r'\d+_[0-9a-f]+_part1\.zip', m['metadata_zip'])
    assert sorted(os.listdir(tmp_path / 'new')) == sorted([m['metadata_zip']] + m['media_zips'])
    n_items = len(fake.account.photos)
    assert len(m['media_zips']) == -(-n_items // 7) and not m['missing_zips']
    seen = {}
    for k, name in enumerate(m['media_zips'], 1):
        assert re.fullmatch(r'data_\d+_[0-9a-f]+_%d\.zip' % k, name), name
        members = zip_members(tmp_path / 'new' / name)
        assert len(members) == (7 if k < len(m['media_zips']) else n_items - 7 * (k - 1))
        for member, data in members.items():
            pid = ID_RULE.search(member).group(1)
            assert pid not in seen, 'each item once'
            seen[pid] = member
            ph = fake.account.photos[pid]
            assert data == truth[pid] == fake.export_file_bytes(pid)
            assert member.endswith('.' + ph.video_ext if ph.is_video else '_o.' + ph.originalformat)
            assert m['files'][pid] == [name, member] and fake.export_file_name(pid) == member
            assert fakeflickr.export_id_of(member) == pid
    assert set(seen) == set(fake.account.photos)
    names = set(seen.values())
    titled = [n for n in names if n.startswith('20150612_153012_')]
    assert len(titled) == 1 and re.fullmatch(r'20150612_153012_\d+_o\.(jpg|png|gif)', titled[0])
    assert any(re.fullmatch(r'clip_2019_\d+\.(mp4|mov)', n) for n in names)
    untitled = [p for p in fake.account.photos.values() if fakeflickr.export_slug(p.title) == '']
    assert untitled, 'the hostile titles include ones that give no name'
    for p in untitled:
        assert seen[p.id] in ('%s_o.%s' % (p.id, p.originalformat), '%s.%s' % (p.id, p.video_ext))
    assert all(n == n.lower() and ' ' not in n and '/' not in n and len(n.encode()) < 200
               for n in names)

    meta = zip_members(tmp_path / 'new' / m['metadata_zip'])
    assert set(meta) == META_FILES | {'photo_%s.json' % pid for pid in fake.account.photos}
    profile = json.loads(meta['account_profile.json'])
    assert profile['nsid'] == fake.user_nsid and profile['screen_name'] == fake.username
    assert profile['real_name'] == fake.account.realname
    albums = json.loads(meta['albums.json'])['albums']
    assert [a['id'] for a in albums] == list(fake.account.albums)
    for a in albums:
        album = fake.account.albums[a['id']]
        assert a['photos'] == album.photo_ids and a['photo_count'] == str(len(album.photo_ids))
        assert a['title'] == album.title and a['description'] == album.description
        assert a['cover_photo'].endswith('/%s' % album.primary)
        assert a['url'].endswith('/albums/%s' % album.id) and a['created'].isdigit()
        assert a['last_updated'] == str(album.date_update)
    geotagged = 0
    for pid, ph in fake.account.photos.items():
        rec = json.loads(meta['photo_%s.json' % pid])
        assert [k for k in rec if k in PHOTO_KEYS] == PHOTO_KEYS
        assert rec['id'] == pid and rec['name'] == ph.title and rec['count_views'] == str(ph.views)
        assert rec['original'].endswith('/%s_%s_o.%s' % (pid, ph.originalsecret, ph.originalformat))
        assert {a['id'] for a in rec['albums']} == {a.id for a in fake.account.albums.values()
                                                    if pid in a.photo_ids}
        want = ('public' if ph.ispublic else 'friend & family' if ph.isfriend and ph.isfamily
                else 'friend' if ph.isfriend else 'family' if ph.isfamily else 'private')
        assert rec['privacy'] == want
        if ph.geotagged:
            assert int(rec['geo']['latitude']) == round(ph.latitude * 10 ** 6)
            geotagged += 1
        else:
            assert rec['geo'] == []
        assert [c['comment'] for c in rec['comments']] == [c.text for c in ph.comments]
    assert geotagged, 'no geotagged photo to check'

    # the older naming, the same files
    old = fake.write_export(tmp_path / 'old', files_per_zip=7, naming='data-download')
    assert old['media_zips'] == ['data-download-%d.zip' % k for k in range(1, len(m['media_zips']) + 1)]
    for a, b in zip(m['media_zips'], old['media_zips']):
        assert zip_members(tmp_path / 'new' / a) == zip_members(tmp_path / 'old' / b)


def test_export_is_deterministic_and_its_faults(exporter, tmp_path):
    fake = exporter
    first = fake.write_export(tmp_path / 'a', files_per_zip=10)
    with fakeflickr.FakeFlickr(seed=5, photos=23, videos=4, albums=4, collections=1,
                               file_size=3_000) as twin:
        second = twin.write_export(tmp_path / 'b', files_per_zip=10)
    assert first['media_zips'] == second['media_zips'] and first['metadata_zip'] == second['metadata_zip']
    for name in [first['metadata_zip']] + first['media_zips']:
        assert (tmp_path / 'a' / name).read_bytes() == (tmp_path / 'b' / name).read_bytes(), name
    with fakeflickr.FakeFlickr(seed=6, photos=23, videos=4, albums=4, collections=1,
                               file_size=3_000) as other:
        assert other.write_export(tmp_path / 'c')['metadata_zip'] != first['metadata_zip']

    friends = [p for p in fake.account.photos.values() if not p.ispublic and p.isfriend != p.isfamily]
    in_albums = [p for p in fake.account.photos.values() if fake.account.albums_of(p.id)]
    assert friends and in_albums
    r = requests.post(fake.base_url + '/_fake/export', json={
        'dir': str(tmp_path / 'faulty'), 'files_per_zip': 10, 'empty_albums': True,
        'merge_friend_family': True, 'drop_zip': 2, 'naming': 'data-download'})
    assert r.status_code == 200, r.text
    m = r.json()
    assert m['media_zips'] == ['data-download-1.zip', 'data-download-3.zip']
    assert m['missing_zips'] == ['data-download-2.zip']
    assert not (tmp_path / 'faulty' / 'data-download-2.zip').exists()
    present = set()
    for name in m['media_zips']:
        present |= {ID_RULE.search(n).group(1) for n in zip_members(tmp_path / 'faulty' / name)}
    missing = {pid for pid, (z, _n) in m['files'].items() if z == 'data-download-2.zip'}
    assert len(missing) == 10 and present == set(fake.account.photos) - missing
    meta = zip_members(tmp_path / 'faulty' / m['metadata_zip'])
    for ph in fake.account.photos.values():
        rec = json.loads(meta['photo_%s.json' % ph.id])
        assert rec['albums'] == [] and rec['people'] == []
        if ph in friends:
            assert rec['privacy'] == 'friend & family'
    assert json.loads(meta['albums.json'])['albums'], 'albums.json still lists the albums'
    assert requests.post(fake.base_url + '/_fake/export', json={'dir': str(tmp_path / 'x'),
                                                                 'naming': 'zip'}).status_code == 400
    assert requests.post(fake.base_url + '/_fake/export', json={}).status_code == 400


def test_cli_write_export(tmp_path):
    script = os.path.join(os.path.dirname(__file__), 'fakeflickr.py')
    out = subprocess.run([sys.executable, script, '--photos', '12', '--videos', '2', '--albums', '2',
                          '--collections', '1', '--file-size', '2000', '--write-export',
                          str(tmp_path), '--export-files-per-zip', '5', '--export-naming',
                          'data-download', '--export-drop-zip', '3', '--export-galleries'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout)
    assert m['media_zips'] == ['data-download-1.zip', 'data-download-2.zip']
    assert m['missing_zips'] == ['data-download-3.zip']
    assert sorted(os.listdir(tmp_path)) == sorted(m['media_zips'] + [m['metadata_zip']])
    assert sum(len(zip_members(tmp_path / z)) for z in m['media_zips']) == 10
    galleries = json.loads(zip_members(tmp_path / m['metadata_zip'])['galleries.json'])['galleries']
    assert len(galleries) == 3 and all(g['photos'] for g in galleries)
    # the shapes of real exports and missing media
    out = subprocess.run([sys.executable, script, '--photos', '12', '--videos', '2', '--albums', '2',
                          '--collections', '1', '--file-size', '2000', '--write-export',
                          str(tmp_path / 'real'), '--export-shape', 'geo-list', '--export-shape',
                          'metadata-parts', '--export-missing-media', '0.25'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout)
    assert len(m['metadata_zips']) == 2 and len(m['missing_media']) == 4
    assert sum(len(zip_members(tmp_path / 'real' / z)) for z in m['media_zips']) == 10


# -- the data export in the shapes of real exports (the readers' evidence: fakeflickr's notes) ---

# Each shape's names, written out here (not taken from fakeflickr).
REAL_NAME_SHAPES = {
    'untitled': re.compile(r'^(?P<id>\d+)_[0-9a-f]{10}_o\.(jpg|png|gif)$'),
    'ambiguous': re.compile(r'^(?P<id>\d+)_\d{10,}_o\.(jpg|png|gif)$'),
    'no-extension': re.compile(r'^.+_(?P<id>\d+)_[oO]$'),
    'upper-case': re.compile(r'^.+_(?P<id>\d+)_O\.(JPG|PNG|GIF)$'),
    'video': re.compile(r'^video_(?P<id>\d+)\.(mp4|mov)$'),
    'non-ascii': re.compile(r'^café-au-lait-.+_(?P<id>\d+)'),
}


def test_export_in_the_shapes_of_real_exports(exporter, tmp_path):
    fake = exporter
    order = [fake.account.photos[pid] for pid in reversed(fake.account.photostream_order())]
    untitled = [p for p in order if not p.is_video][:6]
    for photo in untitled:
        fake.edit_photo(photo.id, title='')
    m = fake.write_export(tmp_path, files_per_zip=10, shapes='real', missing_media=0.1)
    # a tenth of the media in no zip, named in the manifest; the rest once each
    assert len(m['missing_media']) == round(len(order) / 10)
    members = {}
    for z in m['media_zips']:
        members.update({name: data for name, data in zip_members(tmp_path / z).items()})
    assert len(members) == len(order) - len(m['missing_media'])
    by_id = {}
    for name in members:
        shapes = [s for s, rule in REAL_NAME_SHAPES.items() if rule.match(name)]
        ids = [rule.match(name).group('id') for s, rule in REAL_NAME_SHAPES.items() if rule.match(name)]
        for pid in set(ids):
            by_id.setdefault(pid, set()).update(shapes)
    seen = set().union(*by_id.values())
    assert {'untitled', 'ambiguous', 'no-extension', 'upper-case', 'video', 'non-ascii'} <= seen, by_id
    # the first untitled photo's name holds another photo's id too: it fits two photos
    first = untitled[0].id
    if first not in m['missing_media']:
        [double] = [n for n in members if n.startswith(first + '_')]
        assert re.match(r'^%s_(\d+)_o\.\w+$' % first, double).group(1) in fake.account.photos
    # every file is still the true original
    for pid, (zname, member) in m['files'].items():
        assert zip_members(tmp_path / zname)[member] == fake.export_file_bytes(pid)
    # the photo_<id>.json over two metadata parts; the account files in the first
    parts = [zip_members(tmp_path / z) for z in m['metadata_zips']]
    assert m['metadata_zips'][1].endswith('_part2.zip') and len(parts) == 2
    assert parts[1] and all(n.startswith('photo_') for n in parts[1]) and 'account_profile.json' in parts[0]
    photo_jsons = {n: json.loads(d) for p in parts for n, d in p.items() if n.startswith('photo_')}
    assert len(photo_jsons) == len(order)
    # geo: a list of one object of micro-degrees as strings
    placed = [p for p in order if p.geotagged]
    assert placed
    for p in placed:
        assert photo_jsons['photo_%s.json' % p.id]['geo'] == [{
            'latitude': str(round(p.latitude * 1e6)), 'longitude': str(round(p.longitude * 1e6)), 'accuracy': '16'}]
    # albums.json: "0" in the first album, then the synthetic "not in an album N"
    albums = json.loads(parts[0]['albums.json'])['albums']
    first_album = fake.account.albums[next(iter(fake.account.albums))]
    assert albums[0]['photos'].count('0') == 1 and [p for p in albums[0]['photos'] if p != '0'] == first_album.photo_ids
    synthetic = albums[len(fake.account.albums):]
    in_albums = {pid for a in fake.account.albums.values() for pid in a.photo_ids}
    assert [a['title'] for a in synthetic] == ['not in an album %d' % (n + 1) for n in range(len(synthetic))]
    assert sorted(pid for a in synthetic for pid in a['photos']) == sorted(set(fake.account.photos) - in_albums)
    # account files: faves under "favorites", followers a bare list of records
    assert 'favorites' in json.loads(parts[0]['faves_part001.json'])
    followers = json.loads(parts[0]['followers_part001.json'])
    assert isinstance(followers, list) and set(followers[0]) == {'screen_name', 'profile_url'}


def test_export_shapes_are_off_by_default_and_named(exporter, tmp_path):
    m = exporter.write_export(tmp_path / 'plain')
    assert m['metadata_zips'] == [m['metadata_zip']] and m['missing_media'] == []
    with pytest.raises(ValueError):
        exporter.write_export(tmp_path / 'bad', shapes=['no-such-shape'])


# -- dates taken and turns ------------------------------------------------------------------------

def jpeg_dims(b):
    """(width, height) from a JPEG's SOF0 frame header."""
    i = b.index(b'\xff\xc0') + 5
    return int.from_bytes(b[i + 2:i + 4], 'big'), int.from_bytes(b[i:i + 2], 'big')


def listing_record(fake, token, photo_id, extras):
    photos = ok(fake, token, 'flickr.people.getPhotos', user_id='me', per_page=500,
                extras=extras)['photos']['photo']
    return next(p for p in photos if p['id'] == photo_id)


@pytest.mark.parametrize('taken,granularity,unknown', [
    ('0000-00-00 00:00:00', 0, 0), ('2019-02-30 25:61:00', 4, 0), ('1850-07-04 12:00:00', 6, 1),
    ('2001-01-01 00:00:00', 8, 1), ('', 0, 1), ('circa nineteen-ten', 8, 0)])
def test_set_date_taken_is_served_verbatim(fresh, taken, granularity, unknown):
    token = fresh.issue_token()
    ph = pick(fresh, lambda p: not p.is_video)
    before = ph.lastupdate
    r = requests.post(fresh.base_url + '/_fake/mutate', json={
        'action': 'set_date_taken', 'args': {'photo_id': ph.id, 'taken': taken,
                                             'granularity': granularity, 'unknown': unknown}})
    assert r.status_code == 200, r.text
    rec = listing_record(fresh, token, ph.id, 'date_taken,last_update')
    assert (rec['datetaken'], rec['datetakengranularity'], rec['datetakenunknown']) == (
        taken, str(granularity), str(unknown))
    assert int(rec['lastupdate']) > before
    dates = ok(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id)['photo']['dates']
    assert (dates['taken'], dates['takengranularity'], dates['takenunknown']) == (
        taken, str(granularity), str(unknown))
    xml = post(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id, format='rest').text
    node = ET.fromstring(xml).find('photo/dates')
    assert (node.get('taken'), node.get('takengranularity'), node.get('takenunknown')) == (
        taken, str(granularity), str(unknown))
    album = next(a for a in fresh.account.albums.values() if ph.id in a.photo_ids) \
        if fresh.account.albums_of(ph.id) else None
    if album:
        recs = ok(fresh, token, 'flickr.photosets.getPhotos', photoset_id=album.id,
                  extras='date_taken')['photoset']['photo']
        assert next(p for p in recs if p['id'] == ph.id)['datetaken'] == taken


def test_set_date_taken_rejects_bad_granularity_and_ends_zero_quirk(fresh):
    video = pick(fresh, lambda p: p.is_video)
    fresh.set_quirks(video.id, zero_datetaken=True)
    fresh.set_date_taken(video.id, granularity=6)
    token = fresh.issue_token()
    assert listing_record(fresh, token, video.id, 'date_taken')['datetaken'] == '0000-00-00 00:00:00'
    fresh.set_date_taken(video.id, taken='2012-05-06 07:08:09')
    assert listing_record(fresh, token, video.id, 'date_taken')['datetaken'] == '2012-05-06 07:08:09'
    with pytest.raises(ValueError):
        fresh.set_date_taken(video.id, granularity=5)
    assert requests.post(fresh.base_url + '/_fake/mutate', json={
        'action': 'set_date_taken', 'args': {'photo_id': video.id, 'granularity': 2}}).status_code == 400


@pytest.mark.parametrize('rotation', [90, 180, 270])
def test_rotated_photo_turns_its_smaller_sizes_not_its_original(fresh, rotation):
    token = fresh.issue_token()
    ph = pick(fresh, lambda p: not p.is_video and p.width != p.height and p.originalformat == 'jpg'
              and max(p.width, p.height) >= 2048)
    w, h = ph.width, ph.height
    old_b = fakeflickr.static_url(fresh.base_url, ph, '_b')
    assert requests.post(fresh.base_url + '/_fake/mutate', json={
        'action': 'rotate_photo', 'args': {'photo_id': ph.id, 'rotation': rotation}}).ok
    info = ok(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id)['photo']
    assert info['rotation'] == rotation
    xml = post(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id, format='rest').text
    assert ET.fromstring(xml).find('photo').get('rotation') == str(rotation)
    tw, th = (h, w) if rotation in (90, 270) else (w, h)          # turned
    scale = 1024 / max(tw, th)
    want_large = (round(tw * scale), round(th * scale))
    sizes = sizes_of(fresh, token, ph.id)
    assert (int(sizes['Large']['width']), int(sizes['Large']['height'])) == want_large
    assert (int(sizes['Original']['width']), int(sizes['Original']['height'])) == (w, h)
    assert (int(sizes['Large Square']['width']), int(sizes['Large Square']['height'])) == (150, 150)
    rec = listing_record(fresh, token, ph.id, 'url_l,url_k,url_o,o_dims')
    assert (int(rec['width_l']), int(rec['height_l'])) == want_large
    assert (int(rec['width_o']), int(rec['height_o'])) == (w, h) == (int(rec['o_width']), int(rec['o_height']))
    assert jpeg_dims(SESSION.get(rec['url_l']).content) == want_large
    k = SESSION.get(rec['url_k']).content
    assert jpeg_dims(k) == (int(rec['width_k']), int(rec['height_k']))
    assert (jpeg_dims(k)[0] > jpeg_dims(k)[1]) == (tw > th)
    assert jpeg_dims(SESSION.get(rec['url_o']).content) == (w, h), 'the original is not turned'
    assert SESSION.get(old_b).status_code == 404, 'a new secret for the turned sizes'
    fresh.rotate_photo(ph.id, 0)
    assert ok(fresh, token, 'flickr.photos.getInfo', photo_id=ph.id)['photo']['rotation'] == 0
    assert sizes_of(fresh, token, ph.id)['Original']['width'] == str(w)
    with pytest.raises(ValueError):
        fresh.rotate_photo(ph.id, 45)


# -- video play addresses built from the listing ---------------------------------------------

# The play-URL names of the getSizes labels, from the samples ('Site MP4' -> play/site/,
# 'Mobile MP4' -> play/mobile/, '700' -> play/700/); the stream labels are their own names.
PLAY_NAMES = {'Site MP4': 'site', 'Mobile MP4': 'mobile', 'HD MP4': 'hd', 'Video Original': 'orig'}
NOT_RENDITIONS = {'Square', 'Large Square', 'Thumbnail', 'Small', 'Small 320', 'Small 400', 'Medium',
                  'Medium 640', 'Medium 800', 'Large', 'Large 1600', 'Large 2048', 'Original',
                  'Video Player'}


def built_play_url(base, owner, rec, label):
    """What a client builds from a listing record alone (the original flickrmirrorer)."""
    name = PLAY_NAMES.get(label, label)
    secret = rec['originalsecret'] if name == 'orig' else rec['secret']
    return '%s/photos/%s/%s/play/%s/%s/' % (base, owner, rec['id'], name, secret)


def fetch_video(url):
    first = SESSION.get(url, allow_redirects=False)
    if first.status_code != 302:
        return first.status_code, None, first.content
    r = SESSION.get(first.headers['Location'])
    return r.status_code, urlparse(first.headers['Location']).path, r.content


@pytest.mark.parametrize('alias', [None, 'mirror-tester-alias'])
def test_play_addresses_built_from_the_listing_match_getsizes(fresh, alias):
    token = fresh.issue_token()
    if alias:
        assert requests.post(fresh.base_url + '/_fake/mutate', json={
            'action': 'set_path_alias', 'args': {'alias': alias}}).ok
    extras = 'original_format,path_alias,media'
    stream = [p for p in ok(fresh, token, 'flickr.people.getPhotos', user_id='me', per_page=500,
                            extras=extras)['photos']['photo'] if p['media'] == 'video']
    assert stream and all(p['pathalias'] == alias for p in stream)
    owners_of = {p['id']: [p['owner']] + ([p['pathalias']] if p['pathalias'] else []) for p in stream}
    in_albums = 0
    for album in fresh.account.albums.values():
        ps = ok(fresh, token, 'flickr.photosets.getPhotos', photoset_id=album.id,
                extras=extras)['photoset']
        for p in ps['photo']:
            if p['media'] == 'video':
                assert ps['owner'] in owners_of[p['id']] and p['originalsecret'] and p['secret']
                in_albums += 1
    assert in_albums, 'no video in an album to check'
    checked = offered = 0
    for rec in stream:
        sizes = sizes_of(fresh, token, rec['id'])
        labels = [label for label in sizes if label not in NOT_RENDITIONS]
        assert len(labels) >= 3
        if 'Video Original' not in labels:         # not offered for this one: nor built
            built = built_play_url(fresh.base_url, rec['owner'], rec, 'Video Original')
            assert SESSION.get(built, allow_redirects=False).status_code == 404
        else:
            offered += 1
        for label in labels:
            listed = sizes[label]['source']
            page_user = urlparse(listed).path.split('/')[2]
            assert page_user == (alias or rec['owner'])
            assert built_play_url(fresh.base_url, page_user, rec, label) == listed
            want = fetch_video(listed)
            for owner in owners_of[rec['id']]:
                got = fetch_video(built_play_url(fresh.base_url, owner, rec, label))
                assert got == want
            if want[0] == 200:
                assert want[2] == fresh.rendition_bytes(rec['id'], label)
                checked += 1
        wrong = built_play_url(fresh.base_url, '12345678@N01', rec, 'Site MP4')
        assert SESSION.get(wrong, allow_redirects=False).status_code == 404
    assert checked > len(stream) and offered
    # the refusals are the same for the built address
    video = stream[0]
    for mode, status in (('404', 404), ('login', 302)):
        fresh.faults.update(video_originals=mode)
        listed = sizes_of(fresh, token, video['id'])['Video Original']['source']
        a = SESSION.get(listed, allow_redirects=False)
        b = SESSION.get(built_play_url(fresh.base_url, video['pathalias'] or video['owner'], video,
                                       'Video Original'), allow_redirects=False)
        assert a.status_code == b.status_code == status
        assert a.headers.get('Location') == b.headers.get('Location')
    fresh.faults.reset()
    info = ok(fresh, token, 'flickr.photos.getInfo', photo_id=video['id'])['photo']
    assert info['owner']['path_alias'] == alias
    assert info['urls']['url'][0]['_content'] == 'https://www.flickr.com/photos/%s/%s/' % (
        alias or video['owner'], video['id'])


def test_cli_help_describes_every_flag():
    parser = fakeflickr.build_parser()
    options = [a for a in parser._actions if a.option_strings and a.dest != 'help']
    assert len(options) > 30
    assert all(a.help and a.help.strip() for a in options), [a.option_strings for a in options
                                                             if not a.help]
    script = os.path.join(os.path.dirname(__file__), 'fakeflickr.py')
    out = subprocess.run([sys.executable, script, '--help'], capture_output=True, text=True,
                         timeout=30, env=dict(os.environ, COLUMNS='200'))
    assert out.returncode == 0
    for a in options:
        assert a.option_strings[0] in out.stdout
    assert SAMPLES.is_dir(), 'the samples are at testdata/flickr-api-samples'


# -- a broken or hostile server: lone surrogates, a NUL, an id that is not digits, a stale alias

def test_a_lone_surrogate_goes_out_as_its_json_escape(fresh, tmp_path):
    token = fresh.issue_token()
    photo = pick(fresh, lambda p: not p.is_video)
    fresh.edit_photo(photo.id, title='cut \ud83d emoji')
    r = post(fresh, token, 'flickr.people.getPhotos', user_id='me', per_page=500)
    assert b'"cut \\ud83d emoji"' in r.content   # no partner: not valid UTF-16, sent as Flickr does
    r.content.decode('utf-8')   # the body itself is valid UTF-8
    listed = {p['id']: p for p in r.json()['photos']['photo']}
    assert listed[photo.id]['title'] == 'cut \ud83d emoji'
    manifest = fresh.write_export(tmp_path / 'export')
    with zipfile.ZipFile(tmp_path / 'export' / manifest['metadata_zip']) as zf:
        raw = zf.read('photo_%s.json' % photo.id)
    raw.decode('utf-8')
    assert b'cut \\ud83d emoji' in raw and json.loads(raw)['name'] == 'cut \ud83d emoji'


def test_garble_photo_sends_a_foreign_id_and_originalformat_verbatim(fresh):
    token = fresh.issue_token()
    photo = pick(fresh, lambda p: not p.is_video and p.originalformat == 'jpg')
    in_albums = {pid for a in fresh.account.albums.values() for pid in a.photo_ids}
    other = pick(fresh, lambda p: not p.is_video and p.id != photo.id and p.id in in_albums)
    before = photo.lastupdate
    r = requests.post(fresh.base_url + '/_fake/mutate', json={'action': 'garble_photo', 'args': {
        'photo_id': photo.id, 'originalformat': 'jp\x00g'}})
    assert r.status_code == 200 and photo.lastupdate == before
    fresh.garble_photo(other.id, listed_id='../../x')
    listed = {p['id']: p for p in ok(fresh, token, 'flickr.people.getPhotos', user_id='me', per_page=500,
                                     extras='original_format,url_o')['photos']['photo']}
    assert listed[photo.id]['originalformat'] == 'jp\x00g'
    assert listed[photo.id]['url_o'].endswith('_o.jpg')   # its files stay where they were
    assert SESSION.get(listed[photo.id]['url_o']).content == fresh.photo_file_bytes(photo.id)
    assert other.id not in listed and listed['../../x']['secret'] == other.secret
    info = ok(fresh, token, 'flickr.photos.getInfo', photo_id=photo.id)['photo']
    assert info['originalformat'] == 'jp\x00g'
    album = next(a for a in fresh.account.albums.values() if other.id in a.photo_ids)
    in_album = [p['id'] for p in ok(fresh, token, 'flickr.photosets.getPhotos', photoset_id=album.id,
                                    per_page=500)['photoset']['photo']]
    assert '../../x' in in_album and other.id not in in_album


def test_a_stale_path_alias_in_the_listing_breaks_every_built_play_address(fresh):
    token = fresh.issue_token()
    video = pick(fresh, lambda p: p.is_video)
    fresh.faults.update(listing_path_alias='an-old-alias')
    listed = {p['id']: p for p in ok(fresh, token, 'flickr.people.getPhotos', user_id='me', per_page=500,
                                     extras='path_alias,media')['photos']['photo']}
    assert listed[video.id]['pathalias'] == 'an-old-alias'
    built = '%s/photos/an-old-alias/%s/play/site/%s/' % (fresh.base_url, video.id, video.secret)
    assert SESSION.get(built).status_code == 404
    sizes = ok(fresh, token, 'flickr.photos.getSizes', photo_id=video.id)['sizes']['size']
    site = next(s['source'] for s in sizes if s['label'] == 'Site MP4')
    assert '/an-old-alias/' not in site and SESSION.get(site).status_code == 200
