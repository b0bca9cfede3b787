"""``voli browse``: a local web page to check tokens by ear (stdlib http.server, 127.0.0.1 only).

Routes
------
GET  /                      the page (static/index.html, app.js, style.css)
GET  /api/data              tokens, utterances, speakers, excluded token ids, TextGrid paths (JSON)
GET  /audio                 ?recording=ID&start=S&end=S[&speaker=ID]: that span as 16-bit WAV
                            (the speaker's channel where the recording maps one)
GET  /spectrogram.png       same span parameters [&mark_start=S&mark_end=S&ceiling=HZ&title=T]:
                            spectrogram with formant tracks and F0
POST /api/exclude           {"token_id": N, "reason": "..."}: adds the token to exclusions.csv
POST /api/include           {"token_id": N}: takes it off

Protection
----------
Every request must name the server itself in ``Host`` (127.0.0.1, localhost, the bound address or
the address the connection came in on, with the port): a page of another site that re-points its
own name at 127.0.0.1 (DNS rebinding) sends its own name and is refused. A request that changes
something (POST, PUT, PATCH, DELETE) must also carry this server's ``Origin`` (or ``Referer``)
where it sends one, and the session's secret in ``X-Voli-Token``: a token drawn when the server
starts and written into the page (``<meta name="voli-token">``), which a page of another origin
cannot read. Anything else is answered 403 with what was refused.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from voli.browse.data import Workdir
from voli.browse.render import praat_tracks, read_span, spectrogram_png, wav_bytes
from voli.errors import VoliError, bug_message
from voli.io.exclusions import add_exclusion, remove_exclusion

log = logging.getLogger("voli.browse")
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
DEFAULT_PORT = 8765
TOKEN_HEADER = "X-Voli-Token"
TOKEN_PLACEHOLDER = b"__VOLI_TOKEN__"  # in static/index.html, replaced by the session's token
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


class Refused(Exception):
    """A request refused by the Host, Origin or token check (answered 403)."""


class BrowseServer(ThreadingHTTPServer):
    """The HTTP server with the work directory it serves; ``requests`` lists the paths asked for
    (with their query strings), newest last; ``token`` is the session's secret that every
    state-changing request must send in ``X-Voli-Token``."""

    daemon_threads = True

    def __init__(self, address, data: Workdir):
        self.data = data
        self.requests: list[str] = []
        self.lock = threading.Lock()  # exclusions.csv is read-modify-written
        self.token = secrets.token_urlsafe(32)
        super().__init__(address, Handler)

    def allowed_hosts(self, local_address: str | None = None) -> set[str]:
        """The ``Host`` values that name this server: 127.0.0.1, localhost, the bound address and
        ``local_address`` (the address a connection came in on), with the port (and without it on
        port 80). Lower case."""
        host, port = self.server_address[:2]
        names = {"127.0.0.1", "localhost", str(host).lower()}
        if local_address:
            names.add(local_address.lower())
        names.discard("")
        names.discard("0.0.0.0")
        hosts = {f"{name}:{port}" for name in names}
        if port == 80:
            hosts |= names
        return hosts

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def _number(query: dict, name: str, default: float | None = None) -> float:
    values = query.get(name)
    if not values:
        if default is None:
            raise VoliError(f"the request needs {name}= (seconds)")
        return default
    try:
        return float(values[0])
    except ValueError:
        raise VoliError(f"{name}={values[0]!r} is not a number") from None


def _text(query: dict, name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[0] if values else default


class Handler(BaseHTTPRequestHandler):
    server: BrowseServer

    def log_message(self, fmt, *args):  # through voli's logger, not stderr
        log.debug("browse: " + fmt, *args)

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj, allow_nan=False).encode("utf-8"), "application/json")

    def _check(self) -> None:
        """Raise ``Refused`` unless ``Host`` names this server and, for a state-changing method,
        ``Origin``/``Referer`` (where sent) is this server's origin and ``X-Voli-Token`` is the
        session's token."""
        host = (self.headers.get("Host") or "").strip().lower()
        if not host:
            raise Refused("the request has no Host header")
        local = self.connection.getsockname()[0] if self.connection else None
        if host not in self.server.allowed_hosts(local):
            raise Refused(f"Host {host!r} is not this server (a page of another site cannot reach "
                          f"voli browse through its own name); open {self.server.url}")
        if self.command not in STATE_CHANGING:
            return
        own = f"http://{host}"
        origin = self.headers.get("Origin")
        if origin is not None:
            if origin.strip().lower() != own:
                raise Refused(f"Origin {origin!r} is not this server's ({own}): voli browse only "
                              "takes changes from its own page")
        else:
            referer = self.headers.get("Referer")
            if referer is not None:
                parts = urlsplit(referer.strip())
                if f"{parts.scheme}://{parts.netloc}".lower() != own:
                    raise Refused(f"Referer {referer!r} is not this server's page ({own}/): voli browse "
                                  "only takes changes from its own page")
        sent = self.headers.get(TOKEN_HEADER)
        if not sent:
            raise Refused(f"the request has no {TOKEN_HEADER} header: changes are taken only from the "
                          "page voli browse served (reload it)")
        if not secrets.compare_digest(sent.encode("utf-8", "replace"), self.server.token.encode()):
            raise Refused(f"wrong {TOKEN_HEADER}: it is not this session's token (was voli browse "
                          "restarted? reload the page)")

    def _dispatch(self, routes: dict) -> None:
        url = urlsplit(self.path)
        with self.server.lock:
            self.server.requests.append(self.path)
        try:
            self._check()
        except Refused as err:
            log.warning("browse: refused %s %s: %s", self.command, url.path, err)
            self.close_connection = True  # the body (if any) is left unread
            self._send(403, f"voli browse refused this request: {err}".encode("utf-8"),
                       "text/plain; charset=utf-8")
            return
        route = routes.get(url.path)
        if route is None and url.path.startswith("/static/"):
            route = self._static
        if route is None:
            self._send(404, f"no page {url.path}; open /".encode(), "text/plain; charset=utf-8")
            return
        try:
            route(url.path, parse_qs(url.query))
        except VoliError as err:
            self._send(400, str(err).encode("utf-8"), "text/plain; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:
            log.debug("traceback:", exc_info=True)
            self._send(500, bug_message(err, f"browse {url.path}").encode("utf-8"), "text/plain; charset=utf-8")

    def do_GET(self):
        self._dispatch({"/": self._index, "/index.html": self._index, "/api/data": self._data,
                        "/audio": self._audio, "/spectrogram.png": self._spectrogram,
                        "/favicon.ico": lambda path, query: self._send(204, b"", "image/x-icon")})

    def do_POST(self):
        self._dispatch({"/api/exclude": self._exclude, "/api/include": self._include})

    def do_PUT(self):  # no such route; checked like POST all the same, then 404
        self._dispatch({})

    do_PATCH = do_DELETE = do_PUT

    # -- routes -----------------------------------------------------------------------------------

    def _static(self, path: str, query: dict) -> None:
        name = path.rsplit("/", 1)[-1]
        if name not in STATIC:
            self._send(404, f"no file {name}".encode(), "text/plain; charset=utf-8")
            return
        body = resources.files("voli.browse").joinpath("static", name).read_bytes()
        if name == "index.html":  # the page carries the session's token for its POSTs
            body = body.replace(TOKEN_PLACEHOLDER, self.server.token.encode("ascii"))
        self._send(200, body, STATIC[name])

    def _index(self, path: str, query: dict) -> None:
        self._static("/static/index.html", query)

    def _data(self, path: str, query: dict) -> None:
        self._json(self.server.data.page_data())

    def _span(self, query: dict):
        data = self.server.data
        recording = _text(query, "recording")
        if not recording:
            raise VoliError("the request needs recording=ID")
        start, end = _number(query, "start"), _number(query, "end")
        speaker = _text(query, "speaker")
        samples, rate = read_span(data.audio_path(recording), start, end, channel=data.channel(recording, speaker))
        return recording, max(0.0, start), speaker, samples, rate

    def _audio(self, path: str, query: dict) -> None:
        _, _, _, samples, rate = self._span(query)
        self._send(200, wav_bytes(samples, rate), "audio/wav")

    def _spectrogram(self, path: str, query: dict) -> None:
        recording, start, speaker, samples, rate = self._span(query)
        end = start + len(samples) / rate
        formants = f0 = None
        tracks = self.server.data.tracks("formants", recording)
        if tracks is not None:
            frames = tracks[(tracks.time >= start) & (tracks.time <= end)]
            if speaker and (frames.speaker_id == speaker).any():
                frames = frames[frames.speaker_id == speaker]
            if len(frames):
                formants = (frames.time.to_numpy(), frames[["f1_hz", "f2_hz", "f3_hz"]].to_numpy(dtype=float))
        pitch = self.server.data.tracks("f0", recording)
        if pitch is not None:
            frames = pitch[(pitch.time >= start) & (pitch.time <= end)]
            if speaker and (frames.speaker_id == speaker).any():
                frames = frames[frames.speaker_id == speaker]
            if len(frames):
                f0 = (frames.time.to_numpy(), frames.f0_hz.to_numpy(dtype=float))
        if formants is None or f0 is None:  # no tracks for this span: measure it through Praat
            times, values, f0_times, f0_values = praat_tracks(samples, rate, ceiling_hz=_number(query, "ceiling", 5500.0))
            formants = formants if formants is not None else (times + start, values)
            f0 = f0 if f0 is not None else (f0_times + start, f0_values)
        marks = trajectory = None
        if "mark_start" in query and "mark_end" in query:
            marks = (_number(query, "mark_start"), _number(query, "mark_end"))
            track = self.server.data.vowel_track(recording, marks[0], speaker)
            if track is not None:  # the token's 11-point F1/F2 trajectory
                trajectory = (track.time_s.to_numpy(float), track[["f1_hz", "f2_hz"]].to_numpy(float),
                              track.reliable.to_numpy(bool))
        png = spectrogram_png(samples, rate, offset_s=start, formants=formants, f0=f0, marks=marks,
                              trajectory=trajectory, title=_text(query, "title", "") or "")
        self._send(200, png, "image/png")

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as err:
            raise VoliError(f"the request body is not JSON ({err})") from None
        if not isinstance(body, dict) or "token_id" not in body:
            raise VoliError('the request body must be {"token_id": N, "reason": "..."}')
        return body

    def _token(self, body: dict) -> dict:
        tokens = self.server.data.tokens
        try:
            i = int(body["token_id"])
        except (TypeError, ValueError):
            raise VoliError(f"token_id {body['token_id']!r} is not a row number of vowels.parquet") from None
        if not 0 <= i < len(tokens):
            raise VoliError(f"token_id {i} is not a row of vowels.parquet (it has {len(tokens)} rows)")
        return tokens.iloc[i].to_dict()

    def _exclude(self, path: str, query: dict) -> None:
        body = self._body()
        row = self._token(body)
        row["reason"] = str(body.get("reason") or "")
        with self.server.lock:
            add_exclusion(self.server.data.path, row)
            excluded = self.server.data.excluded_ids()
        self._json({"excluded": excluded})

    def _include(self, path: str, query: dict) -> None:
        row = self._token(self._body())
        with self.server.lock:
            remove_exclusion(self.server.data.path, row["recording_id"], row["start"], row["phone"])
            excluded = self.server.data.excluded_ids()
        self._json({"excluded": excluded})


def make_server(workdir: str | Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                corpus: str | Path | None = None) -> BrowseServer:
    """The server for ``workdir``, bound but not yet serving (``port=0``: any free port)."""
    data = Workdir(Path(workdir), corpus=Path(corpus) if corpus else None)
    try:
        return BrowseServer((host, port), data)
    except OSError as err:
        raise VoliError(f"cannot listen on {host}:{port} ({err.strerror}); pick another port with --port") from err


def serve(workdir: str | Path, *, port: int = DEFAULT_PORT, open_browser: bool = True,
          corpus: str | Path | None = None) -> None:
    """Serve the browser until Ctrl-C."""
    server = make_server(workdir, port=port, corpus=corpus)
    print(f"voli browse: {server.url}  ({len(server.data.tokens)} vowel tokens of {server.data.path}; Ctrl-C stops)",
          flush=True)
    if open_browser:
        threading.Timer(0.3, webbrowser.open, args=(server.url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("voli browse: stopped", flush=True)
    finally:
        server.server_close()

