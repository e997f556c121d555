"""A minimal prediction service for the MNIST CNN: one command to start, one ``curl`` to call.

Start it (with a checkpoint saved as in the MNIST chapter, or without one: it then trains a
quick CNN first, about a minute)::

    python -m mlbook.serve --model mnist_cnn.pt --port 8000

Write a test digit and ask for its class::

    python -m mlbook.serve --example digit.png
    curl -s --data-binary @digit.png http://127.0.0.1:8000/predict

The request body is a PNG of a 28 × 28 greyscale digit, white ink on black, as in MNIST. The
answer is JSON: ``{"digit": 7, "probabilities": [...]}``. A bad request (empty, not a PNG, the
wrong size, over :data:`MAX_BYTES`) gets a 4xx answer whose ``error`` says what to send; the
service logs the error and goes on serving.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import torch

from mlbook.mnist import SIDE, as_images, small_cnn

MAX_BYTES = 64 * 1024
WHAT_TO_SEND = (f"POST /predict with the bytes of a PNG image of one digit, {SIDE} × {SIDE} "
                "pixels, greyscale, white ink on black (as in MNIST), e.g. "
                "curl -s --data-binary @digit.png http://HOST:PORT/predict")


class BadRequest(ValueError):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class Predictor:
    """A CNN with its input normalisation: PNG bytes in, digit and probabilities out."""

    def __init__(self, model: torch.nn.Module, mean: float, std: float):
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"std must be positive, got {std}.")
        self.model, self.mean, self.std = model.eval(), float(mean), float(std)
        self.lock = threading.Lock()  # one forward pass at a time: the model is shared

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        """A checkpoint saved as in the MNIST chapter: ``{"model": state_dict, "mean", "std"}``
        of :func:`mlbook.mnist.small_cnn` (any channel counts)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"No model file at {path}. Save one as the MNIST chapter does "
                             "(torch.save({'model': cnn.state_dict(), 'mean': mean, 'std': std}, "
                             "path)), or leave out --model to train a quick one.")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            state = checkpoint["model"]
            channels = (state["0.weight"].shape[0], state["4.weight"].shape[0])
            model = small_cnn(channels)
            model.load_state_dict(state)
            return cls(model, checkpoint["mean"], checkpoint["std"])
        except Exception as err:
            raise ValueError(f"{path} is not a checkpoint of mlbook.mnist.small_cnn with 'model', "
                             f"'mean' and 'std' ({type(err).__name__}: {err}).") from None

    def pixels(self, body: bytes) -> np.ndarray:
        """The request body as 784 grey levels in [0, 1]; :class:`BadRequest` if it is not a
        28 × 28 PNG."""
        from PIL import Image, UnidentifiedImageError

        if not body:
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"The request body is empty. {WHAT_TO_SEND}")
        if len(body) > MAX_BYTES:
            raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                             f"The body has {len(body):,} bytes; the limit is {MAX_BYTES:,}. "
                             f"{WHAT_TO_SEND}")
        try:
            image = Image.open(io.BytesIO(body))
            image.load()
        except (UnidentifiedImageError, OSError, ValueError):
            raise BadRequest(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                             f"The body is not an image this service can read. "
                             f"{WHAT_TO_SEND}") from None
        if image.format != "PNG":
            raise BadRequest(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                             f"The body is a {image.format} image, not a PNG. {WHAT_TO_SEND}")
        if image.size != (SIDE, SIDE):
            raise BadRequest(HTTPStatus.BAD_REQUEST,
                             f"The image is {image.size[0]} × {image.size[1]} pixels; the model "
                             f"reads {SIDE} × {SIDE}. {WHAT_TO_SEND}")
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255
        return grey.reshape(1, SIDE * SIDE)

    def predict(self, body: bytes) -> dict:
        pixels = self.pixels(body)
        with self.lock, torch.no_grad():
            scores = self.model(as_images(pixels, self.mean, self.std))
        probabilities = torch.softmax(scores, dim=1)[0]
        return {"digit": int(probabilities.argmax()),
                "probabilities": [round(float(p), 6) for p in probabilities]}


def png_bytes(pixels) -> bytes:
    """784 grey levels in [0, 1] (or a 28 × 28 array) as the bytes of a PNG."""
    from PIL import Image

    grey = np.asarray(pixels, dtype=np.float32).reshape(SIDE, SIDE)
    if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 1:
        raise ValueError("pixels must be 784 grey levels between 0 and 1.")
    buffer = io.BytesIO()
    Image.fromarray(np.round(grey * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def make_handler(predictor: Predictor, log: bool = True):
    class Handler(BaseHTTPRequestHandler):
        server_version = "mlbook-serve/1"

        def _answer(self, status: HTTPStatus, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path in ("/", "/health"):
                self._answer(HTTPStatus.OK, {"status": "ready", "usage": WHAT_TO_SEND})
            else:
                self._answer(HTTPStatus.NOT_FOUND, {"error": f"No page {self.path}. "
                                                             f"{WHAT_TO_SEND}"})

        def do_POST(self):  # noqa: N802
            try:
                if self.path != "/predict":
                    raise BadRequest(HTTPStatus.NOT_FOUND, f"No endpoint {self.path}. "
                                                           f"{WHAT_TO_SEND}")
                length = self._length()
                body = self.rfile.read(length) if length else b""
                self._answer(HTTPStatus.OK, predictor.predict(body))
            except BadRequest as err:
                self.close_connection = True
                self._answer(err.status, {"error": str(err)})
            except Exception:  # never let one request stop the service
                traceback.print_exc()
                self._answer(HTTPStatus.INTERNAL_SERVER_ERROR,
                             {"error": "The service failed on this request; it logged why."})

        def _length(self) -> int:
            header = self.headers.get("Content-Length")
            if header is None:
                raise BadRequest(HTTPStatus.LENGTH_REQUIRED,
                                 f"Send a Content-Length header (curl does). {WHAT_TO_SEND}")
            try:
                length = int(header)
            except ValueError:
                raise BadRequest(HTTPStatus.BAD_REQUEST,
                                 f"Content-Length {header!r} is not a number. "
                                 f"{WHAT_TO_SEND}") from None
            if length < 0:
                raise BadRequest(HTTPStatus.BAD_REQUEST,
                                 f"Content-Length must not be negative. {WHAT_TO_SEND}")
            if length > MAX_BYTES:  # refuse before reading it all
                raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                 f"The body has {length:,} bytes; the limit is {MAX_BYTES:,}. "
                                 f"{WHAT_TO_SEND}")
            return length

        def log_message(self, format, *args):  # one short line per request, on stderr
            if log:
                sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def quick_predictor(epochs: int = 1) -> Predictor:
    """Train ``small_cnn`` for ``epochs`` epochs on the MNIST training images the book finds."""
    from mlbook import load_mnist
    from mlbook.mnist import as_arrays, fit, loader

    X, y = as_arrays(load_mnist(train=True))
    mean, std = float(X.mean()), float(X.std())
    images = as_images(X, mean, std)
    torch.manual_seed(0)
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit(model, loader(images, y, 128, shuffle=True), (images[:1000], y[:1000]), optimizer,
        epochs, torch.device("cpu"), name="quick CNN")
    return Predictor(model, mean, std)


def serve(predictor: Predictor, host: str = "127.0.0.1", port: int = 8000,
          ready=None) -> None:
    """Answer requests until interrupted; ``ready(port)`` is called once it listens."""
    server = ThreadingHTTPServer((host, port), make_handler(predictor))
    bound = server.server_address[1]
    print(f"Serving the MNIST CNN on http://{host}:{bound}/predict (Ctrl-C stops it).\n"
          f"Try: curl -s --data-binary @digit.png http://{host}:{bound}/predict", flush=True)
    if ready is not None:
        ready(bound)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def start_in_background(predictor: Predictor, host: str = "127.0.0.1", log: bool = False):
    """Serve on a free port in a background thread (for a notebook or a test), logging no
    requests unless ``log``; returns the server (``server.shutdown()`` stops it) and its URL."""
    server = ThreadingHTTPServer((host, 0), make_handler(predictor, log))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlbook.serve",
                                     description="Serve the MNIST CNN over HTTP: "
                                                 + WHAT_TO_SEND)
    parser.add_argument("--model", type=Path, help="checkpoint saved as in the MNIST chapter "
                        "(default: train a quick CNN first)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--example", type=Path, metavar="PNG",
                        help="write the first MNIST test digit to this PNG and exit")
    args = parser.parse_args(argv)
    if args.example is not None:
        from mlbook import load_mnist

        test = load_mnist(train=False)
        args.example.write_bytes(png_bytes(test.data[0].numpy() / 255))
        print(f"Wrote {args.example} (a {int(test.targets[0])}, {SIDE} × {SIDE} pixels).")
        return 0
    if not 0 <= args.port < 65536:
        parser.error(f"--port must lie between 0 and 65535, got {args.port}")
    try:
        predictor = Predictor.load(args.model) if args.model else quick_predictor()
    except ValueError as err:
        parser.error(str(err))
    serve(predictor, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
