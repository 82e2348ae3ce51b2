#!/usr/bin/env python3
"""screenshots.py: remake the README's screenshots of the HTML view (docs/html-*.png).

Writes the view of a small made-up account with flickrmirrorer's own write_html_view
(gradient pictures stand in for photos and their thumbnails), opens it from disk in
headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) and saves 1200x800
screenshots of the index, an album, a photo's page, a photo's page with notes and people
(a note focused, as the Tab key leaves it), a search, the map, the places, the archive and
the tags.

    python docs/screenshots.py
"""

import os
import random
import struct
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import flickrmirrorer as fm  # noqa: E402

CHROMIUM = '/usr/bin/chromium'
TITLES = ['Harbour at dawn', 'Old town', 'Granny\u2019s birthday', 'Snow on the bridge', 'Market day',
          'The cat, again', 'Forest walk', 'Caf\u00e9 Central', 'Mountains', 'Beach day', 'Z\u00fcrich tram',
          'Kingfisher', 'Fog on the river', 'Night street', 'Tulips', 'Ferry to \u00c6r\u00f8']
TAGS = ['travel', 'family', 'bw', 'summer', 'winter', 'river', 'birds', 'street', 'holiday']
PLACES = [  # (locality, region, country, latitude, longitude)
    ('\u00c6r\u00f8sk\u00f8bing', 'Syddanmark', 'Denmark', 54.8886, 10.4123),
    ('Z\u00fcrich', 'Z\u00fcrich', 'Switzerland', 47.3769, 8.5417),
    ('Reykjav\u00edk', 'Capital Region', 'Iceland', 64.1466, -21.9426),
    ('Kyoto', 'Kyoto Prefecture', 'Japan', 35.0116, 135.7681),
    ('Valpara\u00edso', 'Valpara\u00edso', 'Chile', -33.0472, -71.6127),
]


def gradient_png(width, height, hue):
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    base = [(hue * 37 + 40) % 256, (hue * 83 + 90) % 256, (hue * 131 + 160) % 256]
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            t = (x + y) * 255 // (width + height)
            rows += bytes(min(255, (c + t) // 2 + 30) for c in base)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(bytes(rows))) + chunk(b'IEND', b''))


def write(dest, rel, data):
    path = os.path.join(dest, *rel.split('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def note(n, author, text, box):
    return dict(zip('xywh', map(str, box)), id=str(n), author='%d@N01' % n, authorname=author, _content=text)


def account(dest):
    """(photos, albums, collections, details): the photos as the run keeps them, each one's
    details as its enriched .metadata gives them (getInfo's place, page and notes; comments;
    people.getList's people)."""
    rng = random.Random(4)
    photos, details = [], {}
    for i, title in enumerate(TITLES):
        pid = str(5001000000 + i)
        video = i == 5
        w, h = (640, 480) if i % 3 != 2 else (480, 640)
        name = '%s.%s' % (pid, 'mp4' if video else 'png')
        write(dest, 'photostream/' + name, b'not a real video' if video else gradient_png(w, h, i))
        thumb_url = 'https://live.staticflickr.com/65535/%s_%012x_n.jpg' % (pid, i)
        write(dest, fm.thumb_path(pid, thumb_url), gradient_png(w // 2, h // 2, i))
        photos.append(fm.Photo(
            id=pid, filename=name, media='video' if video else 'photo', title=title,
            taken='%d-%02d-%02d 1%d:%02d:00' % (2023 - i % 4, i % 12 + 1, i + 3, i % 10, i * 3),
            granularity='6' if i == 7 else '0', thumb_url=thumb_url, has_thumb=True,
            description='' if i % 3 else 'Seen from the <b>old bridge</b>, early.\n'
                                         'More on <a href="https://example.com/">my blog</a>.',
            tag_lines='\n'.join(rng.sample(TAGS, rng.randint(1, 3)))))
        locality, region, country, lat, lon = PLACES[0 if i < 9 else i % len(PLACES)]
        info = {'id': pid, 'location': {'latitude': lat + i * 0.01, 'longitude': lon,
                                        'locality': {'_content': locality}, 'region': {'_content': region},
                                        'country': {'_content': country}},
                'urls': {'url': [{'type': 'photopage', '_content': 'https://www.flickr.com/photos/me/%s/' % pid}]}}
        metadata = {'flickrmirrorer': {'format': 2, 'enriched': '1'}, 'photo': info,
                    'listing': {'id': pid, 'lastupdate': '1', 'count_comments': '1'},
                    'comments': [{'authorname': 'Ann', 'datecreate': '1683018840', '_content': 'What <i>light</i>!'}]}
        if i == 1:   # notes and people as Flickr gives them: boxes in the photo's 500-pixel frame
            info['notes'] = {'note': [note(n, *args) for n, args in enumerate((
                ('Ann', 'The clock tower: <b>1612</b>', (262, 40, 70, 120)),
                ('me', 'Our first flat was up here', (40, 150, 110, 80)),
                ('Ann', 'Still the best bakery in town', (330, 250, 90, 70))))]}
            info['people'] = {'haspeople': '1'}
            metadata['people'] = {'photo_width': '500', 'photo_height': '375', 'person': [
                {'nsid': '1@N01', 'username': 'ann', 'realname': 'Ann Example',
                 'x': '180', 'y': '230', 'w': '60', 'h': '100'},
                {'nsid': '2@N01', 'username': 'bob', 'realname': 'Bob Example'}]}
        details[pid] = fm.Photo.from_metadata(metadata, texts=False)
    ids = [p.id for p in photos]
    albums = [{'id': '72157001', 'title': 'Summer in Denmark', 'description': 'Two weeks on <b>\u00c6r\u00f8</b>.',
               'primary': ids[0], 'photo_ids': ids[:9]},
              {'id': '72157002', 'title': 'Birds', 'description': '', 'primary': ids[11], 'photo_ids': ids[9:14]},
              {'id': '72157003', 'title': 'Family', 'description': '', 'primary': ids[2], 'photo_ids': ids[2:6]}]
    collections = [{'id': '2634-1', 'title': 'Travels', 'description': '', 'album_ids': ['72157001'],
                    'children': [{'id': '2634-2', 'title': 'Nature', 'description': '',
                                  'album_ids': ['72157002'], 'children': []}]}]
    return photos, albums, collections, details


def galleries_and_groups(photos):
    """A gallery of yours and others' photos (others' are shown as text: the view never loads
    Flickr's images), and two groups."""
    ids = [p['id'] for p in photos]
    others = [('Kingfisher at the weir', 'Ann Larsen', 'Wonderful timing'),
              ('Old harbour, 1968', 'Harbour Museum', ''), ('Morning fog', 'jens_p', 'Lovely light')]
    gallery = [{'id': pid, 'title': '', 'owner': '', 'url': '', 'comment': comment}
               for pid, comment in ((ids[0], 'Where it started'), (ids[3], ''), (ids[12], ''))]
    gallery += [{'id': str(9001000000 + i), 'title': title, 'owner': owner,
                 'url': 'https://www.flickr.com/photos/someone/%d/' % (9001000000 + i), 'comment': comment}
                for i, (title, owner, comment) in enumerate(others)]
    return {'galleries': [{'id': '5001-72157101', 'title': 'Water and light',
                           'description': 'Harbours, rivers and <i>fog</i>, mine and others\u2019.',
                           'url': 'https://www.flickr.com/photos/me/galleries/72157101/', 'photos': gallery}],
            'groups': [{'id': '1234@N20', 'name': 'Birds of Denmark', 'url': 'https://www.flickr.com/groups/1234@N20/',
                        'photo_ids': ids[9:14]},
                       {'id': '5678@N21', 'name': 'Black and white', 'url': 'https://www.flickr.com/groups/5678@N21/',
                        'photo_ids': ids[2:4]}]}


def main():
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as dest:
        photos, albums, collections, details = account(dest)
        fm.write_html_view(dest, photos, albums, collections, details=details.get,
                           lists=galleries_and_groups(photos))
        shots = [('html-index.png', 'index.html'), ('html-album.png', 'html/album-72157001.html'),
                 ('html-photo.png', 'html/photo-%s.html' % photos[0].id),
                 ('html-photo-notes.png', 'html/photo-%s.html' % photos[1].id),
                 ('html-search.png', 'html/search.html?q=bridge'), ('html-map.png', 'html/map.html'),
                 ('html-places.png', 'html/places.html'), ('html-archive.png', 'html/archive.html'),
                 ('html-tags.png', 'html/tags.html'), ('html-gallery.png', 'html/gallery-5001-72157101.html')]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=['--no-sandbox', '--disable-gpu'])
            try:
                page = browser.new_page(viewport={'width': 1200, 'height': 800})
                for name, rel in shots:
                    page.goto('file://' + os.path.join(dest, rel))
                    page.wait_for_load_state('load')
                    if name == 'html-photo-notes.png':
                        page.focus('a.box.note >> nth=1')
                    page.wait_for_timeout(300)
                    page.screenshot(path=os.path.join(HERE, name), full_page=name.startswith('html-photo'))
                    print('wrote', os.path.join(HERE, name))
            finally:
                browser.close()


if __name__ == '__main__':
    main()
