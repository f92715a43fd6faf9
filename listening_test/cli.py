"""`evalsuite mushra build|serve|report`: MUSHRA listening tests (ITU-R BS.1534-3)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .config import PROLIFIC_COMPLETE_URL, ConfigError

APP = Path(__file__).with_name("app.py")
ENV_TEST_DIR = "EVALSUITE_MUSHRA_TEST"
ENV_DB_URL = "EVALSUITE_MUSHRA_DB"
ENV_ADMIN_TOKEN = "EVALSUITE_MUSHRA_ADMIN_TOKEN"
ENV_PUBLIC_URL = "EVALSUITE_MUSHRA_PUBLIC_URL"


def _floats(s: str) -> list[float]:
    try:
        return [float(v) for v in s.split(",") if v.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from e


def _names(s: str) -> list[str]:
    return [v.strip() for v in s.split(",") if v.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mushra", help="MUSHRA listening tests: build a test from a run, host it, report",
                       description="MUSHRA listening tests after ITU-R BS.1534-3.")
    msub = p.add_subparsers(dest="mushra_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    b = msub.add_parser("build", help="build a test folder (config + audio) from an `evalsuite run` folder",
                        description="One trial per item: open reference, hidden reference, 3.5 kHz and 7 kHz "
                                    "low-pass anchors and the chosen codec conditions, cut to the same <= 12 s, "
                                    "loudness-aligned, mono, as 16-bit FLAC; plus training trials on items that "
                                    "are not rated.")
    b.add_argument("run_dir", type=Path, help="run folder written by `evalsuite run` (items.csv, audio/)")
    b.add_argument("--codecs", type=_names, required=True, help="comma-separated codec names, e.g. soundstream,opus")
    b.add_argument("--kbps", type=_floats, required=True, help="comma-separated bitrates, e.g. 3,6,12")
    b.add_argument("--items", type=int, default=12, help="number of rated items (trials), balanced across categories (default 12)")
    b.add_argument("--item-names", type=_names, default=None, help="explicit comma-separated items instead of the balanced choice")
    b.add_argument("--training-items", type=int, default=1,
                   help="training trials, on items not rated afterwards (default 1)")
    b.add_argument("--training-item-names", type=_names, default=None, help="explicit comma-separated training items")
    b.add_argument("--training-from-rated", action="store_true",
                   help="if no item is left for training, train on rated items (the config notes it)")
    b.add_argument("--trials-per-listener", type=int, default=0, metavar="K",
                   help="each listener rates a balanced subset of K trials (default 0: all)")
    b.add_argument("--max-clip-s", type=float, default=12.0, help="clip length limit in seconds (default and maximum 12)")
    b.add_argument("--clip-start", type=float, default=0.0, help="where every clip starts, seconds into the item (default 0)")
    b.add_argument("--lufs", type=float, default=-26.0, help="loudness of every signal, LUFS (default -26)")
    b.add_argument("--seed", type=int, default=0, help="seed of the item choice (the blinding is drawn per listener, unseeded)")
    b.add_argument("--require-play", action="store_true", help="each signal must be played before the trial can be submitted")
    b.add_argument("--lock-to-playing", action="store_true", help="only the slider of the signal being heard can be moved")
    b.add_argument("--screening", choices=["auto", "none", "huggins", "antiphase"], default="auto",
                   help="headphone screening before the test (default auto: huggins for Prolific studies, else none)")
    b.add_argument("--prolific-completion-code", default="", help="Prolific study: the completion code")
    b.add_argument("--prolific-screenout-code", default="", help="Prolific study: the code for listeners who fail screening")
    b.add_argument("--prolific-study-id", default="", help="Prolific study: refuse links of other studies")
    b.add_argument("--prolific-completion-url", default=PROLIFIC_COMPLETE_URL,
                   help=f"where Prolific codes are sent (default {PROLIFIC_COMPLETE_URL})")
    b.add_argument("--audio-format", choices=["flac", "wav"], default="flac", help="16-bit FLAC (default) or WAV")
    b.add_argument("--name", default="", help="test name shown to listeners (default: folder name)")
    b.add_argument("--overwrite", action="store_true", help="replace an existing test in the output folder")
    b.add_argument("-o", "--out", type=Path, required=True, help="output test folder")
    b.set_defaults(func=_build)

    s = msub.add_parser("serve", help="host the test in a browser (Streamlit)",
                        description=f"Starts the Streamlit app. Listeners open http://HOST:PORT/. The admin view "
                                    f"(?admin=1) needs the token in ${ENV_ADMIN_TOKEN}.")
    s.add_argument("test_dir", type=Path)
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--db", default=None, help="SQLAlchemy URL of the ratings database (default: SQLite in the test folder)")
    s.add_argument("--public-url", default=None,
                   help=f"the address listeners open, e.g. https://listen.example.org/mushra/ (behind an HTTPS proxy); "
                        f"personal and admin-made links use it; a path is served as Streamlit's base path "
                        f"(default ${ENV_PUBLIC_URL})")
    s.set_defaults(func=_serve)

    k = msub.add_parser("link", help="print a personal link: a new listener, or a new link for an existing one",
                        description="Works without the admin view (e.g. while admin logins are locked). Reissuing "
                                    "replaces the listener's token: the old link stops working, ratings are kept.")
    k.add_argument("test_dir", type=Path)
    k.add_argument("listener", help="listener ID")
    k.add_argument("--reissue", action="store_true", help="the listener exists: give them a new link")
    k.add_argument("--public-url", default=None, help=f"base of the link (default ${ENV_PUBLIC_URL})")
    k.add_argument("--db", default=None, help="SQLAlchemy URL, if the test is served with --db")
    k.set_defaults(func=_link)

    r = msub.add_parser("report", help="analyse the ratings: screening, means with 95%% CI, box plots, paired tests")
    r.add_argument("test_dir", type=Path)
    r.add_argument("-o", "--out", type=Path, default=None, help="output folder (default <test>/report)")
    r.add_argument("--db", default=None, help="SQLAlchemy URL, if the test was served with --db")
    r.set_defaults(func=_report)


def _build(a) -> int:
    from .build import BuildOptions, build_test
    from .config import ProlificSettings

    prolific = ProlificSettings(completion_code=a.prolific_completion_code, screenout_code=a.prolific_screenout_code,
                                study_id=a.prolific_study_id, completion_url=a.prolific_completion_url)
    cfg = build_test(a.run_dir, a.out, BuildOptions(
        codecs=a.codecs, kbps=a.kbps, n_items=a.items, items=a.item_names, max_clip_s=a.max_clip_s,
        clip_start_s=a.clip_start, loudness_lufs=a.lufs, seed=a.seed, name=a.name, overwrite=a.overwrite,
        n_training=a.training_items, training_items=a.training_item_names, training_from_rated=a.training_from_rated,
        trials_per_listener=a.trials_per_listener, require_play=a.require_play, lock_to_playing=a.lock_to_playing,
        screening=a.screening, prolific=prolific, audio_format=a.audio_format))
    for note in cfg.notes:
        if note.startswith("left out"):
            print(f"note: {note}", file=sys.stderr)
    for w in cfg.warnings:
        print(f"warning: {w}", file=sys.stderr)
    n_sig = len(cfg.trials[0].conditions)
    cats = sorted({t.category for t in cfg.trials})
    print(f"built {a.out}: {len(cfg.trials)} trials x {n_sig} signals ({', '.join(cats)}), "
          f"{len(cfg.training)} training trial(s), {cfg.k} trial(s) per listener, screening {cfg.screening}; "
          f"serve it with: evalsuite mushra serve {a.out}")
    return 0


def streamlit_command(test_dir: Path, port: int, host: str, public_url: str | None = None) -> list[str]:
    """The Streamlit command line; with a public URL that has a path (https://host/mushra/), the
    app is served under that path, as a reverse proxy passing the path through expects."""
    base = []
    if public_url:
        from .links import base_path

        path = base_path(public_url)
        base = ["--server.baseUrlPath", path] if path else []
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(port), "--server.address", host, "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal", *base,
            "--", "--test", str(Path(test_dir).resolve())]


def _public_url(given: str | None) -> str | None:
    from .links import normalize_public_url

    url = given or os.environ.get(ENV_PUBLIC_URL) or None
    return normalize_public_url(url) if url else None


def _serve(a) -> int:
    from .admin_auth import GENERATE_HINT, token_problem
    from .config import load_config

    cfg = load_config(a.test_dir)  # fail here, clearly, rather than in the browser
    public = _public_url(a.public_url)
    env = dict(os.environ, **{ENV_TEST_DIR: str(Path(a.test_dir).resolve())})
    if a.db:
        env[ENV_DB_URL] = a.db
    if public:
        env[ENV_PUBLIC_URL] = public
    token = env.get(ENV_ADMIN_TOKEN)
    if not token:
        print(f"note: ${ENV_ADMIN_TOKEN} is not set, the admin view is disabled", file=sys.stderr)
    elif token_problem(token):
        raise ConfigError(f"${ENV_ADMIN_TOKEN} is too weak: {token_problem(token)}; {GENERATE_HINT}")
    if not public and a.host not in ("127.0.0.1", "localhost", "::1"):
        print("note: no --public-url: personal links follow each browser's address; admin-made links point at "
              "the admin's address", file=sys.stderr)
    print(f"serving {cfg.name!r} ({len(cfg.trials)} trials) at http://{a.host}:{a.port}/"
          + (f", public address {public}" if public else ""), file=sys.stderr)
    cmd = streamlit_command(a.test_dir, a.port, a.host, public)
    sys.stdout.flush()
    sys.stderr.flush()
    # replace this process: stopping `evalsuite mushra serve` then stops the server (no orphan)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


def _link(a) -> int:
    from .config import load_config
    from .links import personal_link
    from .storage import RatingStore, UnknownListener, default_url

    load_config(a.test_dir)
    public = _public_url(a.public_url)  # before any change: a bad URL must not cost the listener their link
    store = RatingStore(a.db or os.environ.get(ENV_DB_URL) or default_url(a.test_dir))
    try:
        tok = store.reissue_token(a.listener) if a.reissue else store.create_listener(a.listener, source="admin")
    except UnknownListener as e:
        raise ConfigError(f"{e} in {a.test_dir}; without --reissue a new listener is created") from e
    finally:
        store.dispose()
    print(personal_link(public or "/", a.listener, tok))
    if not public:
        print(f"note: no --public-url (or ${ENV_PUBLIC_URL}): prefix the link with the test's address", file=sys.stderr)
    return 0


def _report(a) -> int:
    from .analysis import write_report

    files = write_report(a.test_dir, a.out, a.db)
    out = next(iter(files.values())).parent
    import pandas as pd

    scr = pd.read_csv(files["screening"])
    ex = scr[scr["excluded"]]
    print(f"report in {out}: {len(scr)} listener(s), {len(ex)} excluded by post-screening")
    for _, row in ex.iterrows():
        print(f"  excluded {row['listener']}: {row['reason']}")
    print(pd.read_csv(files["summary"])[["condition", "mean", "ci95_low", "ci95_high", "n"]].to_string(index=False))
    return 0
