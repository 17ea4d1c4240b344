"""Runs localstripe, the Stripe emulator the local stack and the tests pay
against, the way the other services run: on loopback only, with its state in
the project's state directory. Started by `scripts/services start`.

    localstripe-server.py PORT STATE_FILE

localstripe itself listens on every interface and, on every write, pickles its
whole store to /tmp/localstripe.pickle: a cost that grows with the store, so a
run of thousands of payments slows to a crawl. Here the same store is written
to STATE_FILE at most twice a second and when the process stops (SIGTERM), so
a restart (the tests' gateway outage) finds every intent, charge and refund.
The emulator's behaviour is otherwise untouched.
"""

import asyncio
import os
import pickle
import signal
import sys

from aiohttp import web

import localstripe.resources as resources
from localstripe.server import app

# A process started from a thread that blocks signals (a Swift test's, through
# Foundation's Process) inherits that mask: without this, SIGTERM never arrives.
signal.pthread_sigmask(signal.SIG_SETMASK, [])

port = int(sys.argv[1])
state_file = sys.argv[2]
Store = type(resources.store)
dirty = False


def load(store):
    try:
        with open(state_file, 'rb') as f:
            saved = pickle.load(f)
    except FileNotFoundError:
        return
    store.clear()
    store.update(saved)


def mark_dirty(store):
    global dirty
    dirty = True


def flush():
    global dirty
    if not dirty:
        return
    dirty = False
    temporary = state_file + '.tmp'
    with open(temporary, 'wb') as f:
        pickle.dump(resources.store, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, state_file)


async def flush_periodically():
    while True:
        await asyncio.sleep(0.5)
        flush()


async def start_flushing(application):
    application['flusher'] = asyncio.ensure_future(flush_periodically())


async def stop_flushing(application):
    application['flusher'].cancel()
    flush()


Store.try_load_from_disk = load
Store.dump_to_disk = mark_dirty
resources.store.try_load_from_disk()
app.on_startup.append(start_flushing)
app.on_cleanup.append(stop_flushing)
# A stop (SIGTERM) waits at most a second for requests in flight: a client's idle
# keep-alive connections must not hold it up (the tests stop it for an outage).
web.run_app(app, host='127.0.0.1', port=port, access_log=None, print=None, shutdown_timeout=1.0)
