#!/usr/bin/env python3
"""compare_runner.py: run another flickrapi program, unchanged, against fakeflickr.

    FLICKR_API_BASE=http://127.0.0.1:PORT FLICKR_API_KEY=... FLICKR_API_SECRET=... \\
        python bench/compare_runner.py PROGRAM.py [its arguments...]

bench.py --compare uses it to run the original flickrmirrorer (markdoliner/flickrmirrorer,
fetched by the person running the benchmark; nothing of it is shipped here) on the same
fake account as ours.  The program's own code is not touched: it is run with runpy as
``python PROGRAM.py ...`` would run it (``__name__ == '__main__'``, its directory first on
sys.path, its exit status), after three things in this process are pointed at the fake:

* flickrapi's endpoints: ``flickrapi.FlickrAPI.REST_URL`` and the request-token, authorize
  and access-token URLs of ``flickrapi.auth.OAuthFlickrInterface`` (class attributes, as
  fakeflickr's ``login_with_flickrapi`` sets them);
* the API key: every ``flickrapi.FlickrAPI(api_key, secret, ...)`` is made with
  FLICKR_API_KEY and FLICKR_API_SECRET instead of the key the program carries (the
  original has its own key built in; the fake knows only its own), all other arguments
  as the program gave them;
* Flickr's file hosts: a ``requests`` call (any ``requests.Session``, so ``requests.get``
  and ``requests.head`` too) to ``*.staticflickr.com/<server>/<file>`` goes to the fake's
  ``/static/<server>/<file>``, and one to ``www.flickr.com/<path>`` (the video play
  addresses) to the fake's ``/<path>``; every other URL is left alone.

The login is not done here: the token is the one flickrapi finds in its token cache
(``~/.flickr/oauth-tokens.sqlite`` unless the program says otherwise), which bench.py
fills with a token the fake issued, under a HOME of its own for the run.
"""

import inspect
import os
import runpy
import sys
import urllib.parse

import flickrapi
import flickrapi.auth
import requests

FLICKR_HOSTS = ('flickr.com', 'www.flickr.com')


def fake_url(base, url):
    """The fake's address for a Flickr file URL; any other URL unchanged."""
    try:
        parts = urllib.parse.urlsplit(url)
    except (TypeError, ValueError):
        return url
    host = (parts.hostname or '').lower()
    if host.endswith('.staticflickr.com'):
        path = parts.path if parts.path.startswith('/video/') else '/static' + parts.path
    elif host in FLICKR_HOSTS and not parts.path.startswith('/services/'):
        path = parts.path
    else:
        return url
    return base + path + ('?' + parts.query if parts.query else '')


def point_at_fake(base, api_key, api_secret):
    base = base.rstrip('/')
    flickrapi.FlickrAPI.REST_URL = base + '/services/rest/'
    iface = flickrapi.auth.OAuthFlickrInterface
    iface.REQUEST_TOKEN_URL = base + '/services/oauth/request_token'
    iface.AUTHORIZE_URL = base + '/services/oauth/authorize'
    iface.ACCESS_TOKEN_URL = base + '/services/oauth/access_token'

    flickrapi_init = flickrapi.FlickrAPI.__init__

    signature = inspect.signature(flickrapi_init)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.arguments['api_key'], bound.arguments['secret'] = api_key, api_secret
        flickrapi_init(*bound.args, **bound.kwargs)

    flickrapi.FlickrAPI.__init__ = __init__

    session_request = requests.Session.request

    def request(self, method, url, *args, **kwargs):
        return session_request(self, method, fake_url(base, url), *args, **kwargs)

    requests.Session.request = request


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    program = os.path.abspath(argv[0])
    point_at_fake(os.environ['FLICKR_API_BASE'], os.environ['FLICKR_API_KEY'],
                  os.environ['FLICKR_API_SECRET'])
    sys.argv = [program] + list(argv[1:])
    sys.path[0] = os.path.dirname(program)
    runpy.run_path(program, run_name='__main__')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
