"""What S3 enforces and moto does not: presigned POST policies, presigned URL signatures and expiry, checksums of
presigned uploads (``x-amz-checksum-*`` against the body: moto stores whatever value it is given), and no
anonymous access.

moto accepts every presigned request (an expired, forged or oversize upload gets 204). This WSGI middleware sits
in front of moto's server and answers such requests as S3 does — same status codes, same XML error codes — so
the tests see what users on AWS would see. It recomputes signatures with botocore's own SigV4 signer (the code
that made them) rather than a second implementation of the algorithm.

Requests signed in the ``Authorization`` header (every SDK call) pass through unchecked: moto accepts any key,
and the services' clients here all hold the emulator's credentials.
"""

import base64
import binascii
import hashlib
import io
import json
import re
import uuid
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.formparser import parse_form_data

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
#: S3's longest presigned URL lifetime (seven days).
MAX_EXPIRES = 604800
#: Form fields a POST policy does not have to name (AWS's list).
_UNCHECKED_FIELDS = frozenset({"policy", "x-amz-signature", "file"})


#: x-amz-checksum-<name>: (digest of the body, digest length). CRC32C needs a library S3's SDKs bring
#: (awscrt); the API asks for SHA-256.
_CHECKSUMS: dict[str, tuple[Callable[[bytes], bytes], int]] = {
    "sha256": (lambda data: hashlib.sha256(data).digest(), 32),
    "sha1": (lambda data: hashlib.sha1(data, usedforsecurity=False).digest(), 20),
    "crc32": (lambda data: zlib.crc32(data).to_bytes(4, "big"), 4),
}


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _denied(message: str = "Access Denied") -> Refusal:
    return Refusal(403, "AccessDenied", message)


def _policy_failed(condition: Any) -> Refusal:
    return _denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}")


def _signature_mismatch() -> Refusal:
    return Refusal(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    )


def _sigv2_refused() -> Refusal:
    # Buckets created since 2020 accept only Signature Version 4.
    return Refusal(
        400,
        "InvalidRequest",
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
    )


def _parse_amz_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise Refusal(400, "AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601 format") from exc


class S3Guard:
    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]], credentials: dict[str, str]) -> None:
        self.app = app
        #: access key id -> secret key: the keys this emulator signs with (and so can verify).
        self.credentials = credentials
        #: (upload id, part number) -> (algorithm, checksum) of the parts verified here: S3 lists them in
        #: ListParts (a resuming client compares them), moto keeps none.
        self.part_checksums: dict[tuple[str, int], tuple[str, str]] = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            answer = self._check(environ)
        except Refusal as refusal:
            return self._refuse(environ, start_response, refusal)
        if answer is not None:
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
            return [answer]
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if environ["REQUEST_METHOD"].upper() == "GET" and "uploadId" in query and "partNumber" not in query:
            return self._list_parts_with_checksums(environ, start_response, query["uploadId"])
        return self.app(environ, start_response)

    def _list_parts_with_checksums(
        self, environ: Environ, start_response: StartResponse, upload_id: str
    ) -> Iterable[bytes]:
        answered: list[Any] = []
        body = b"".join(self.app(environ, lambda status, headers, *rest: answered.append((status, headers))))
        status, headers = answered[0]

        def add(match: re.Match[bytes]) -> bytes:
            number = int(re.search(rb"<PartNumber>(\d+)</PartNumber>", match.group(0)).group(1))  # type: ignore[union-attr]
            known = self.part_checksums.get((upload_id, number))
            if known is None:
                return match.group(0)
            algorithm, value = known
            tag = f"Checksum{algorithm.upper()}".encode()
            return match.group(0)[: -len(b"</Part>")] + b"<" + tag + b">" + value.encode() + b"</" + tag + b"></Part>"

        if status.startswith("200"):
            body = re.sub(rb"<Part>.*?</Part>", add, body, flags=re.DOTALL)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    # -- classification ------------------------------------------------------------------------------------------
    def _check(self, environ: Environ) -> bytes | None:
        method = environ["REQUEST_METHOD"].upper()
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api") or method == "OPTIONS":
            return None
        if environ.get("HTTP_AUTHORIZATION"):
            return None
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
            self._check_presigned_url(environ, method, query)
            if method == "PUT":
                if "uploadId" in query:
                    _check_upload_exists(path, query["uploadId"])
                self._check_checksums(environ)
            return None
        if "Signature" in query and "AWSAccessKeyId" in query:
            raise _sigv2_refused()
        content_type = environ.get("CONTENT_TYPE", "")
        if method == "POST" and content_type.startswith("multipart/form-data"):
            self._check_post_policy(environ, path)
            return None
        if path == "/" and method in ("GET", "HEAD"):
            # Liveness for health checks, without answering ListBuckets to an anonymous caller.
            return b'{"status": "running"}'
        raise _denied()

    def _secret(self, access_key: str) -> str:
        secret = self.credentials.get(access_key)
        if secret is None:
            raise Refusal(
                403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
            )
        return secret

    # -- presigned GET/PUT/... URLs ------------------------------------------------------------------------------
    def _check_presigned_url(self, environ: Environ, method: str, query: dict[str, str]) -> None:
        missing = [
            name
            for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")
            if name not in query
        ]
        if missing or query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise Refusal(
                400,
                "AuthorizationQueryParametersError",
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
            )
        access_key, _, region, service, terminator = (query["X-Amz-Credential"].split("/") + [""] * 5)[:5]
        if terminator != "aws4_request":
            raise Refusal(400, "AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter")
        signed_at = _parse_amz_date(query["X-Amz-Date"])
        try:
            expires = int(query["X-Amz-Expires"])
        except ValueError as exc:
            raise Refusal(400, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number") from exc
        if not 0 < expires <= MAX_EXPIRES:
            raise Refusal(
                400,
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            )
        credentials = Credentials(access_key, self._secret(access_key))
        if (datetime.now(UTC) - signed_at).total_seconds() > expires:
            raise _denied("Request has expired")
        # The request as it was signed: raw path and query as sent (minus the signature), the signed headers.
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        raw_path, _, raw_query = raw_uri.partition("?")
        unsigned_query = "&".join(
            part for part in raw_query.split("&") if part and unquote(part.partition("=")[0]) != "X-Amz-Signature"
        )
        headers = {}
        for name in query["X-Amz-SignedHeaders"].lower().split(";"):
            if name == "content-type":
                value = environ.get("CONTENT_TYPE")
            else:
                value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            if value is None:
                raise _signature_mismatch()
            headers[name] = value
        request = AWSRequest(method=method, url=f"http://{headers.get('host', 'localhost')}{raw_path}?{unsigned_query}")
        for name, value in headers.items():
            request.headers[name] = value
        request.context["timestamp"] = query["X-Amz-Date"]
        signer = S3SigV4QueryAuth(credentials, service, region, expires=expires)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if expected != query.get("X-Amz-Signature", ""):
            raise _signature_mismatch()

    # -- checksums of uploaded bytes (UploadPart, PutObject) ----------------------------------------------------
    def _check_checksums(self, environ: Environ) -> None:
        claimed = {
            algorithm: environ[f"HTTP_X_AMZ_CHECKSUM_{algorithm.upper()}"]
            for algorithm in _CHECKSUMS
            if f"HTTP_X_AMZ_CHECKSUM_{algorithm.upper()}" in environ
        }
        if not claimed:
            return
        body = self._read_body(environ)
        for algorithm, value in claimed.items():
            try:
                valid = len(base64.b64decode(value, validate=True)) == _CHECKSUMS[algorithm][1]
            except (binascii.Error, ValueError):
                valid = False
            if not valid:
                raise Refusal(400, "InvalidRequest", f"Value for x-amz-checksum-{algorithm} header is invalid.")
            if base64.b64encode(_CHECKSUMS[algorithm][0](body)).decode() != value:
                raise Refusal(
                    400, "BadDigest", f"The {algorithm.upper()} you specified did not match the calculated checksum."
                )
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if "uploadId" in query and query.get("partNumber", "").isdigit():
            for algorithm, value in claimed.items():
                self.part_checksums[(query["uploadId"], int(query["partNumber"]))] = (algorithm, value)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))

    # -- browser-based uploads (POST policy) ---------------------------------------------------------------------
    def _check_post_policy(self, environ: Environ, path: str) -> None:
        body = self._read_body(environ)
        probe = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        _, form, files = parse_form_data(probe)
        fields = {name.lower(): value for name, value in form.items()}
        upload = files.get("file")
        bucket = unquote(path.lstrip("/").split("/", 1)[0])
        if "policy" in fields and "awsaccesskeyid" in fields:
            raise _sigv2_refused()
        if "policy" not in fields or "x-amz-signature" not in fields:
            raise _denied()
        try:
            policy = json.loads(base64.b64decode(fields["policy"], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from exc
        if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
            raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.")

        access_key, _, region, service, _ = (fields.get("x-amz-credential", "").split("/") + [""] * 5)[:5]
        request = AWSRequest(method="POST", url="http://localhost/")
        request.context["timestamp"] = fields.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(access_key, self._secret(access_key)), service, region)
        if signer.signature(fields["policy"], request) != fields["x-amz-signature"]:
            raise _signature_mismatch()

        try:
            expiration = datetime.fromisoformat(str(policy.get("expiration", "")).replace("Z", "+00:00"))
        except ValueError as exc:
            raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.") from exc
        if expiration <= datetime.now(UTC):
            raise _denied("Invalid according to Policy: Policy expired.")

        size = len(upload.read()) if upload is not None else 0
        values = {**fields, "bucket": bucket}
        covered = {"bucket"}
        size_range: tuple[int, int] | None = None
        for condition in policy["conditions"]:
            if isinstance(condition, dict) and len(condition) == 1:
                [(name, expected)] = condition.items()
                name = name.lower()
                covered.add(name)
                if values.get(name) != expected:
                    raise _policy_failed(["eq", f"${name}", expected])
            elif isinstance(condition, list) and len(condition) == 3:
                operator, operand, expected = condition
                if operator == "content-length-range":
                    size_range = (int(operand), int(expected))
                    continue
                name = str(operand).lstrip("$").lower()
                covered.add(name)
                value = values.get(name)
                if value is None or not (
                    (operator == "eq" and value == expected)
                    or (operator == "starts-with" and value.startswith(str(expected)))
                ):
                    raise _policy_failed(condition)
            else:
                raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition.")
        extra = sorted(
            name for name in fields if name not in covered | _UNCHECKED_FIELDS and not name.startswith("x-ignore-")
        )
        if extra:
            raise _denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
        if upload is None:
            raise Refusal(400, "InvalidArgument", "POST requires exactly one file upload per request.")
        if size_range is not None:
            if size > size_range[1]:
                raise Refusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            if size < size_range[0]:
                raise Refusal(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        # moto reads the body again: hand it the bytes that were read here.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))

    @staticmethod
    def _read_body(environ: Environ) -> bytes:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            return stream.read(int(length))
        return stream.read() if environ.get("wsgi.input_terminated") else b""

    # -- answers -------------------------------------------------------------------------------------------------
    @staticmethod
    def _refuse(environ: Environ, start_response: StartResponse, refusal: Refusal) -> Iterable[bytes]:
        request_id = uuid.uuid4().hex[:16].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{refusal.code}</Code><Message>{_xml(refusal.message)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ).encode()
        reasons = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        if environ["REQUEST_METHOD"].upper() == "HEAD":
            start_response(f"{refusal.status} {reasons[refusal.status]}", [*headers, ("Content-Length", "0")])
            return [b""]
        start_response(f"{refusal.status} {reasons[refusal.status]}", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _check_upload_exists(path: str, upload_id: str) -> None:
    """A part for an aborted, completed or unknown upload: S3 answers 404 NoSuchUpload (moto fails with a 500)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.get(unquote(path.lstrip("/").split("/", 1)[0]))
    if bucket is not None and upload_id not in bucket.multiparts:
        raise Refusal(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted "
            "or completed.",
        )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
