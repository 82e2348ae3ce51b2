#!/usr/bin/env python3
"""view.py: how long the browsable HTML view takes to make, beside another version.

Generates an account (default 100,000 photos in 1,000 albums, 10 collections) whose every
photo has a small file on disk (so that every photo has its own page), a thumbnail for most,
titles, descriptions with HTML, tags, dates, places and a few comments; then makes its whole
view with write_html_view of this checkout's flickrmirrorer.py and, with --against FILE, of
another copy, alternating (A B, B A, ...), each into a fresh directory (a first view: every
page written) and once more into the same one (an unchanged view: every page compared),
and renders every page once more without writing it (CPU only: the figure least moved by
other work on the machine).  Prints each run's wall and CPU time and the medians.  The
other version takes photos as this one does (the one Photo class) or, before it (the
hand-joined view of 58c5b82), as dicts: the same account, drawn from the same seed.

    python bench/view.py --photos 20000 --against /tmp/old.py --repeat 3
"""

import argparse
import importlib.util
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = ('sunset harbour town granny birthday snow market cat bridge forest walk cafe mountains '
         'beach river lake kingfisher heron tram station garden rain fog night street dog').split()
TAGS = 'travel family bw macro street holiday zurich nature portrait landscape'.split()


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def takes_dicts(module):
    """Does `module`'s view take photos as dicts (the view before the one Photo class)?"""
    return 'filename' not in getattr(module.Photo, '__slots__', ()) and \
        'filename' not in getattr(module.Photo, '__dataclass_fields__', {})


def generate(module, files_dir, n_photos, n_albums, seed=1):
    """(photos, albums, collections, details) as `module` takes them, the files written under
    files_dir (shared by every run: the view reads them, never writes them).  The same seed
    gives every module the same account."""
    records, albums, collections = draw_account(n_photos, n_albums, seed)
    os.makedirs(os.path.join(files_dir, 'photostream'), exist_ok=True)
    os.makedirs(os.path.join(files_dir, 'html', 'thumbs'), exist_ok=True)
    build = as_dicts if takes_dicts(module) else as_photos
    photos, details = build(module, files_dir, records)
    return photos, albums, collections, details


def draw_account(n_photos, n_albums, seed):
    """(photo records, albums, collections) in plain values, drawn from `seed`."""
    rng = random.Random(seed)
    records = []
    for i in range(n_photos):
        records.append({
            'id': str(5_000_000_000 + i),
            'title': ' '.join(rng.sample(WORDS, rng.randint(1, 3))).capitalize(),
            'description': '' if rng.random() < 0.6 else 'A <b>%s</b> near the %s & "co"' % (
                rng.choice(WORDS), rng.choice(WORDS)),
            'taken': '20%02d-0%d-1%d 12:34:56' % (rng.randrange(24), rng.randint(1, 9), rng.randrange(10)),
            'tags': rng.sample(TAGS, rng.randint(0, 4)),
            'thumb': rng.random() < 0.9,
            'commented': rng.random() < 0.2})
    per_album = max(1, n_photos * 9 // 10 // n_albums)
    albums = [{'id': str(72157000000000 + a), 'title': '%s %d' % (rng.choice(WORDS).capitalize(), a),
               'description': 'An <i>album</i>', 'primary': None,
               'photo_ids': [r['id'] for r in records[a * per_album:(a + 1) * per_album]]}
              for a in range(n_albums)]
    step = max(1, n_albums // 10)
    collections = [{'id': '1-%d' % c, 'title': 'Collection %d' % c, 'description': '',
                    'album_ids': [a['id'] for a in albums[c * step:(c + 1) * step]], 'children': []}
                   for c in range(10)]
    return records, albums, collections


def touch(files_dir, rel):
    open(os.path.join(files_dir, *rel.split('/')), 'wb').close()


def as_photos(module, files_dir, records):
    """(photos, details) as the one Photo class takes them."""
    photos, details = [], {}
    for r in records:
        pid, name = r['id'], '%s.jpg' % r['id']
        touch(files_dir, 'photostream/' + name)
        photo = module.Photo(id=pid, filename=name, media='photo', title=r['title'], description=r['description'],
                             taken=r['taken'], tag_lines='\n'.join(r['tags']))
        if r['thumb']:
            photo.thumb_url = 'https://live.staticflickr.com/1/%s_abc_n.jpg' % pid
            photo.has_thumb = True
            touch(files_dir, module.thumb_path(pid, photo.thumb_url))
        photos.append(photo)
        comments = [{'authorname': 'Ann', 'datecreate': '1577872800', '_content': 'So <b>good</b>'}]
        info = {'id': pid, 'location': {'latitude': 47.37, 'longitude': 8.54, 'locality': {'_content': 'Z\u00fcrich'},
                                        'country': {'_content': 'Switzerland'}},
                'urls': {'url': [{'type': 'photopage', '_content': 'https://www.flickr.com/photos/me/%s/' % pid}]}}
        details[pid] = module.Photo.from_metadata(
            {'flickrmirrorer': {'format': 2, 'enriched': '1'}, 'photo': info,
             'comments': comments if r['commented'] else None,
             'listing': {'id': pid, 'lastupdate': '1', 'ispublic': '1', 'isfriend': '0', 'isfamily': '0'}},
            texts=False)
    return photos, details.get


def as_dicts(_module, files_dir, records):
    """(photos, details) as the view before the one Photo class takes them: dicts (the
    thumbnails' names differ)."""
    photos, details = [], {}
    for r in records:
        pid, rel = r['id'], 'photostream/%s.jpg' % r['id']
        touch(files_dir, rel)
        photo = {'id': pid, 'file': rel, 'media': 'photo', 'title': r['title'], 'description': r['description'],
                 'datetaken': r['taken'], 'tags': r['tags']}
        if r['thumb']:
            photo['thumb'] = 'html/thumbs/%s-0123456789ab.jpg' % pid
            touch(files_dir, photo['thumb'])
        photos.append(photo)
        details[pid] = {'place_names': ['Z\u00fcrich', 'Switzerland'], 'latitude': 47.37, 'longitude': 8.54,
                        'privacy': 'public', 'url': 'https://www.flickr.com/photos/me/%s/' % pid,
                        'comments': [{'author': 'Ann', 'date': '2020-01-01 10:00 UTC', 'text': 'So <b>good</b>'}]
                        if r['commented'] else []}
    return photos, (lambda pid: details.get(pid, {}))


def timed(module, files_dir, dest, account):
    """(wall, CPU) seconds of one write_html_view into dest (a copy-free view of files_dir)."""
    photos, albums, collections, details = account
    for name in ('photostream', ):
        link = os.path.join(dest, name)
        if not os.path.exists(link):
            os.symlink(os.path.join(files_dir, name), link)
    thumbs = os.path.join(dest, 'html', 'thumbs')
    if not os.path.exists(thumbs):
        os.makedirs(os.path.join(dest, 'html'), exist_ok=True)
        os.symlink(os.path.join(files_dir, 'html', 'thumbs'), thumbs)
    wall, cpu = time.perf_counter(), time.process_time()
    module.write_html_view(dest, photos, albums, collections, details=details)
    return time.perf_counter() - wall, time.process_time() - cpu


def rendered(module, files_dir, account):
    """(wall, CPU) seconds of rendering every page of the view in memory, writing none."""
    photos, albums, collections, details = account
    wall, cpu = time.perf_counter(), time.process_time()
    view = module.View(files_dir, photos, albums, collections, module.HTML_PAGE_SIZE, details)
    for _, parts in module.all_pages(view):
        ''.join(parts)
    return time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--photos', type=int, default=100_000)
    parser.add_argument('--albums', type=int, default=1000)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--against', metavar='FILE', help='another flickrmirrorer.py to time beside this one')
    args = parser.parse_args()
    programs = [('this', load(os.path.join(os.path.dirname(HERE), 'flickrmirrorer.py'), 'fm_this'))]
    if args.against:
        programs.append(('against', load(args.against, 'fm_against')))
    work = tempfile.mkdtemp(prefix='view-bench-')
    try:
        files_dir = os.path.join(work, 'files')
        accounts = {name: generate(module, files_dir, args.photos, args.albums) for name, module in programs}
        results = {name: {'first': [], 'unchanged': [], 'render': []} for name, _ in programs}
        for round_ in range(args.repeat):
            order = programs if round_ % 2 == 0 else programs[::-1]
            for name, module in order:
                dest = os.path.join(work, 'dest-%s-%d' % (name, round_))
                os.makedirs(dest)
                for kind in ('first', 'unchanged'):
                    wall, cpu = timed(module, files_dir, dest, accounts[name])
                    results[name][kind].append((wall, cpu))
                    print('round %d %-8s %-9s wall %6.2f s  CPU %6.2f s' % (round_ + 1, name, kind, wall, cpu),
                          flush=True)
                shutil.rmtree(dest)
                wall, cpu = rendered(module, files_dir, accounts[name])
                results[name]['render'].append((wall, cpu))
                print('round %d %-8s %-9s wall %6.2f s  CPU %6.2f s' % (round_ + 1, name, 'render', wall, cpu),
                      flush=True)
        print('medians of %d, %d photos in %d albums:' % (args.repeat, args.photos, args.albums))
        for name, kinds in results.items():
            for kind, runs in kinds.items():
                print('  %-8s %-9s wall %6.2f s  CPU %6.2f s' % (
                    name, kind, statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
