"""A small Hugging Face Hub-compatible HTTP server on 127.0.0.1 for the publish tests.

It speaks the endpoints huggingface_hub uses to create a repository, upload (preupload, the LFS
batch API, basic transfer and verify), commit (NDJSON), tag, list refs and trees, and resolve
files, and keeps everything in memory. Commits are content-addressed like git's, so the blob ids
it reports are the real git blob ids.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LFS_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.onnx", "*.gguf", "*.npz", "*.zip")
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)
LFS_SIZE = 10 * 1024 * 1024


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


@dataclass(frozen=True)
class Blob:
    data: bytes | None  # regular file content, or None for an LFS file
    size: int
    lfs_oid: str | None = None

    @property
    def oid(self) -> str:
        if self.lfs_oid is not None:
            return blob_id(pointer(self.lfs_oid, self.size))
        assert self.data is not None
        return blob_id(self.data)


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: dict[str, Blob]
    message: str


@dataclass
class Repo:
    private: bool
    gated: bool | str = False  # "auto" or "manual": users must ask for access
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pulls: list[str] = field(default_factory=list)

    def new_commit(self, parent: str | None, files: dict[str, Blob], message: str) -> str:
        listing = json.dumps([parent, message, sorted((p, b.oid) for p, b in files.items())])
        sha = hashlib.sha1(listing.encode()).hexdigest()
        self.commits[sha] = Commit(sha, parent, dict(files), message)
        return sha

    def resolve(self, revision: str) -> str | None:
        revision = unquote(revision)
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.tags:
            return self.tags[revision]
        match = re.fullmatch(r"refs/pr/(\d+)", revision)
        if match and 0 < int(match[1]) <= len(self.pulls):
            return self.pulls[int(match[1]) - 1]
        return revision if revision in self.commits else None


class HubState:
    """Everything the server holds, plus knobs for tests (failures to inject, tokens seen)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.fail_next: dict[str, int] = {}
        self.fail_status: dict[str, int] = {}  # the status an injected failure answers with
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def should_fail(self, name: str) -> bool:
        if self.fail_next.get(name, 0) > 0:
            self.fail_next[name] -= 1
            return True
        return False


class HubHandler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def state(self) -> HubState:
        return self.server.state

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message}, {"X-Error-Message": message})

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.state.token}":
            return True
        self._error(401, "Invalid credentials in Authorization header")
        return False

    def _writable(self, repo_id: str) -> Repo | None:
        """The repository for a write, after the token is checked (the body is read first)."""
        return self._repo(repo_id) if self._authorised() else None

    def _revision(self, repo: Repo, revision: str) -> str | None:
        """The commit a revision names, or None after answering 404."""
        sha = repo.resolve(revision)
        if sha is None:
            self._error(404, "Revision not found")
        return sha

    def _repo(self, repo_id: str) -> Repo | None:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._json(404, {"error": "Repository not found"},
                       {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        return repo

    # -- dispatch ------------------------------------------------------------------------------

    ROUTES: tuple[tuple[str, str, str], ...] = (
        ("POST", r"/api/repos/create", "create_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/refs", "refs"),
        ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?",
         "tree"),
        ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?", "info"),
        ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)", "commit"),
        ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/tag/(?P<rev>[^/]+)", "tag"),
        ("POST", r"/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "lfs_upload"),
        ("POST", r"/lfs-verify", "lfs_verify"),
        ("GET", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("HEAD", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    )

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, url.path)
            if method == self.command and match:
                self.state.calls.append(name)
                with self.state.lock:
                    if self.state.should_fail(name):
                        self._body()
                        self._error(self.state.fail_status.get(name, 500),
                                    f"injected failure in {name}")
                        return
                    getattr(self, f"_{name}")(parse_qs(url.query), **match.groupdict())
                return
        self._body()
        self._error(404, f"no route for {self.command} {url.path}")

    do_GET = do_POST = do_PUT = do_HEAD = _dispatch

    # -- endpoints -----------------------------------------------------------------------------

    def _create_repo(self, query: dict[str, list[str]]) -> None:
        payload = json.loads(self._body())
        if not self._authorised():
            return
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get(
            "organization") else payload["name"]
        if repo_id in self.state.repos:
            message = "You already created this model repo"
            self._json(409, {"error": message, "url": f"{self.base}/{repo_id}"},
                       {"X-Error-Message": message})
            return
        repo = Repo(private=payload.get("visibility", "public") != "public")
        files = {".gitattributes": Blob(GITATTRIBUTES.encode(), len(GITATTRIBUTES))}
        repo.branches["main"] = repo.new_commit(None, files, "initial commit")
        self.state.repos[repo_id] = repo
        self._json(200, {"url": f"{self.base}/{repo_id}", "name": repo_id, "id": repo_id})

    def _validate_yaml(self, query: dict[str, list[str]]) -> None:
        self._body()
        self._json(200, {"errors": [], "warnings": []})

    def _info(self, query: dict[str, list[str]], repo: str, rev: str | None = None) -> None:
        state = self._repo(repo)
        if state is None:
            return
        sha = self._revision(state, rev or "main")
        if sha is None:
            return
        files = state.commits[sha].files
        self._json(200, {"id": repo, "modelId": repo, "sha": sha, "private": state.private,
                         "gated": state.gated,
                         "siblings": [{"rfilename": p} for p in sorted(files)]})

    def _refs(self, query: dict[str, list[str]], repo: str) -> None:
        state = self._repo(repo)
        if state is None:
            return
        payload = {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": c}
                         for n, c in state.branches.items()],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": c}
                     for n, c in state.tags.items()],
            "converts": [],
        }
        if query.get("include_prs"):
            payload["pullRequests"] = [{"name": f"refs/pr/{i}", "ref": f"refs/pr/{i}",
                                        "targetCommit": c}
                                       for i, c in enumerate(state.pulls, start=1)]
        self._json(200, payload)

    def _tree(self, query: dict[str, list[str]], repo: str, rev: str,
              path: str | None = None) -> None:
        state = self._repo(repo)
        if state is None:
            return
        sha = self._revision(state, rev)
        if sha is None:
            return
        prefix = unquote(path).rstrip("/") + "/" if path else ""
        recursive = query.get("recursive", ["False"])[0].lower() == "true"
        entries: dict[str, dict[str, Any]] = {}
        for name, blob in sorted(state.commits[sha].files.items()):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if "/" in rest and not recursive:
                folder = prefix + rest.split("/", 1)[0]
                entries[folder] = {"type": "directory", "oid": "0" * 40, "size": 0,
                                   "path": folder}
                continue
            parts = rest.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = prefix + "/".join(parts[:depth])
                entries[folder] = {"type": "directory", "oid": "0" * 40, "size": 0,
                                   "path": folder}
            entry: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": blob.size,
                                     "path": name}
            if blob.lfs_oid is not None:
                entry["lfs"] = {"oid": blob.lfs_oid, "size": blob.size,
                                "pointerSize": len(pointer(blob.lfs_oid, blob.size))}
            entries[name] = entry
        self._json(200, list(entries.values()))

    def _preupload(self, query: dict[str, list[str]], repo: str, rev: str) -> None:
        payload = json.loads(self._body())
        state = self._writable(repo)
        if state is None:
            return
        head = state.resolve(rev)
        existing = state.commits[head].files if head else {}
        answers = []
        for item in payload["files"]:
            sample = base64.b64decode(item["sample"])
            lfs = (item["size"] >= LFS_SIZE or b"\0" in sample
                   or any(fnmatch.fnmatch(item["path"].rsplit("/", 1)[-1], p)
                          for p in LFS_PATTERNS))
            old = existing.get(item["path"])
            oid = (old.lfs_oid or old.oid) if old is not None else None
            answers.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular",
                            "shouldIgnore": False, "oid": oid})
        self._json(200, {"files": answers, "commitOid": head})

    def _lfs_batch(self, query: dict[str, list[str]], repo: str) -> None:
        payload = json.loads(self._body())
        if not self._authorised():
            return
        objects = []
        for item in payload["objects"]:
            answer: dict[str, Any] = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.state.lfs:
                answer["actions"] = {
                    "upload": {"href": f"{self.base}/lfs-upload/{item['oid']}"},
                    "verify": {"href": f"{self.base}/lfs-verify"},
                }
            objects.append(answer)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(),
                   content_type="application/vnd.git-lfs+json")

    def _lfs_upload(self, query: dict[str, list[str]], oid: str) -> None:
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            self._error(400, "uploaded bytes do not match the oid")
            return
        self.state.lfs[oid] = data
        self._send(200)

    def _lfs_verify(self, query: dict[str, list[str]]) -> None:
        payload = json.loads(self._body())
        data = self.state.lfs.get(payload["oid"])
        if data is None or len(data) != payload["size"]:
            self._error(404, "object not uploaded")
            return
        self._json(200, {})

    def _commit(self, query: dict[str, list[str]], repo: str, rev: str) -> None:
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        state = self._writable(repo)
        if state is None:
            return
        branch = unquote(rev)
        head = state.resolve(branch)
        header = next(item["value"] for item in lines if item["key"] == "header")
        create_pr = bool(query.get("create_pr"))
        parent = header.get("parentCommit")
        if parent and not create_pr and parent != head:
            self._error(412, "A commit has happened since. Please refresh and try again.")
            return
        files = dict(state.commits[parent or head].files) if (parent or head) else {}
        for item in lines:
            value = item["value"]
            if item["key"] == "file":
                data = base64.b64decode(value["content"])
                files[value["path"]] = Blob(data, len(data))
            elif item["key"] == "lfsFile":
                data = self.state.lfs.get(value["oid"])
                if data is None:
                    self._error(400, f"LFS object {value['oid']} was not uploaded")
                    return
                files[value["path"]] = Blob(None, len(data), value["oid"])
            elif item["key"] == "deletedFile":
                files.pop(value["path"], None)
        message = header["summary"] + ("\n\n" + header["description"]
                                       if header.get("description") else "")
        sha = state.new_commit(parent or head, files, message)
        pull_request = None
        if create_pr:
            state.pulls.append(sha)
            pull_request = f"{self.base}/{repo}/discussions/{len(state.pulls)}"
        else:
            state.branches[branch] = sha
        self._json(200, {"commitUrl": f"{self.base}/{repo}/commit/{sha}", "commitOid": sha,
                         "pullRequestUrl": pull_request, "success": True})

    def _tag(self, query: dict[str, list[str]], repo: str, rev: str) -> None:
        payload = json.loads(self._body())
        state = self._writable(repo)
        if state is None:
            return
        sha = self._revision(state, rev)
        if sha is None:
            return
        if payload["tag"] in state.tags:
            self._error(409, "Tag already exists")
            return
        state.tags[payload["tag"]] = sha
        self._json(200, {"success": True})

    def _resolve(self, query: dict[str, list[str]], repo: str, rev: str, path: str) -> None:
        state = self._repo(repo)
        if state is None:
            return
        sha = state.resolve(rev)
        blob = state.commits[sha].files.get(unquote(path)) if sha else None
        if sha is None or blob is None:
            self._json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            return
        data = self.state.lfs[blob.lfs_oid] if blob.lfs_oid else blob.data
        assert data is not None
        headers = {"X-Repo-Commit": sha, "ETag": f'"{blob.oid}"'}
        if blob.lfs_oid:
            headers.update({"X-Linked-Etag": f'"{blob.lfs_oid}"', "X-Linked-Size": str(len(data))})
        self._send(200, data, headers, content_type="application/octet-stream")


class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.state = HubState(token)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
