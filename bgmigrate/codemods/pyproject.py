"""The static side's configuration: ``[tool.bgmigrate]`` in ``pyproject.toml``, then flags.

Unknown keys are an error that lists the valid ones (a misspelled setting must never be
silently dropped).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bgmigrate.codemods.model import FailOn
from bgmigrate.errors import ConfigError

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "node_modules",
    "build",
    "dist",
    "site-packages",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".bgmigrate_cache",
    "*.egg-info",
)

# Calls whose presence in a task means it may outgrow "short": fnmatch patterns over the
# resolved callee name (``requests.get``) or, when the receiver is unknown, its source text.
DEFAULT_SLOW_CALLS: tuple[str, ...] = (
    "time.sleep",
    "requests.*",
    "httpx.*",
    "aiohttp.*",
    "urllib.request.*",
    "subprocess.*",
    "os.system",
    "openai.*",
    "anthropic.*",
    "*.chat.completions.create",
    "*.embeddings.create",
    "*.messages.create",
    "*.embed_documents",
    "*.embed_query",
    "*.invoke",
    "*.ainvoke",
    "boto3.*",
    "*.upload_file",
    "*.download_file",
    "smtplib.*",
    "pypdf.*",
    "PyPDF2.*",
    "fitz.*",
    "pdfplumber.*",
    "sentence_transformers.*",
    "*.extract_text",
    # Document parsing and parsing services.
    "pymupdf.*",
    "docx.*",
    "unstructured.*",
    "llama_parse.*",
    "llama_cloud_services.*",
    "docling.*",
    "*.DocumentConverter.convert",
    "markitdown.*",
    "*.load_data",
    "*.aload_data",
    # LLM calls, embeddings and vector stores.
    "litellm.*",
    "langchain*.*Loader*",
    "langchain*.*Embeddings*",
    "llama_index.*Reader*",
    "llama_index.*Embedding*",
    "transformers.*",
    "*.aembed_documents",
    "*.aembed_query",
    "*.add_documents",
    "*.aadd_documents",
    "*.add_texts",
    "*.aadd_texts",
    "*.from_documents",
    "*.afrom_documents",
    "*.similarity_search*",
    "*.asimilarity_search*",
    "*.upsert",
    "*.aupsert",
    "chromadb.*",
    "qdrant_client.*",
    "pymilvus.*",
    "pinecone.*",
    "weaviate.*",
    "pgvector.*",
    "*.acompletion",
    "*.completion",
    "*.generate_content",
    "*.agenerate",
    "*.arun",
    # Speech to text and text to speech.
    "faster_whisper.*",
    "whisper.*",
    "*.transcribe",
    "*.atranscription",
    "*.transcription",
    # Scraping, crawling and browsers.
    "playwright.*",
    "crawl4ai.*",
    "firecrawl.*",
    "selenium.*",
    "*.arun_many",
    "*.scrape_url",
    "*.crawl_url",
    "*.goto",
    "*.scrape",
    "*.crawl",
    # Article extraction: each fetches the page, and parses or summarises it.
    "newspaper.Article.*",
    "newspaper.article.Article.*",
    "newspaper.build",
    "newspaper.fulltext",
    "trafilatura.fetch_url",
    "trafilatura.extract",
    "goose3.Goose.extract",
    "nltk.download",
    # Code loaded at run time (generated scripts, plugins): its length is unknown.
    "*.exec_module",
    "runpy.*",
    # Chat-bot frameworks whose dispatch runs every listener the app registered.
    "slack_bolt.*.dispatch",
    "slack_bolt.*.async_dispatch",
    # Subprocesses and media.
    "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell",
    "ffmpeg.*",
    "moviepy.*",
    "pydub.*",
)

# Loops whose data has no bound known in advance: fnmatch patterns over the iterable's callee.
DEFAULT_UNBOUNDED_LOOPS: tuple[str, ...] = (
    "while True",
    "os.walk",
    "glob.glob",
    "glob.iglob",
    "*.iterdir",
    "*.glob",
    "*.rglob",
    "*.all",
    "*.fetchall",
    "*.scalars",
    "*.readlines",
    "*.iter_lines",
    "*.iter_content",
    "*.aiter_lines",
    "*.paginate",
    "*.stream",
    "*.list_pages",
    "*.iter_pages",
    "*.lazy_load",
    "*.alazy_load",
)

# Blocking calls that stall the event loop when made from an ``async def`` task.
DEFAULT_BLOCKING_CALLS: tuple[str, ...] = (
    "time.sleep",
    "requests.*",
    "urllib.request.*",
    "subprocess.*",
    "os.system",
    "smtplib.*",
    "httpx.get",
    "httpx.post",
    "httpx.put",
    "httpx.patch",
    "httpx.delete",
    "httpx.request",
    "httpx.Client",
    "httpx.Client.*",
    "requests.Session.*",
    "newspaper.Article.download",
    "newspaper.article.Article.download",
    "newspaper.build",
    "newspaper.fulltext",
    "trafilatura.fetch_url",
    "goose3.Goose.extract",
    "nltk.download",
)

# Work that must not be lost: database writes, email, payments, outbound webhooks.
DEFAULT_MUST_NOT_LOSE_CALLS: tuple[str, ...] = (
    "*.commit",
    "*.bulk_save_objects",
    "*.insert_one",
    "*.insert_many",
    "*.update_one",
    "smtplib.*",
    "*.sendmail",
    "*.send_message",
    "*send_email*",
    "*send_mail*",
    "fastapi_mail.*",
    "sendgrid.*",
    "stripe.*",
    "*charge*",
    "*payment*",
    "*webhook*",
    "requests.post",
    "requests.put",
    "requests.Session.post",
    "requests.Session.put",
    "httpx.post",
    "httpx.put",
    "httpx.Client.post",
    "httpx.Client.put",
    "httpx.AsyncClient.post",
    "httpx.AsyncClient.put",
    "aiohttp.ClientSession.post",
    "aiohttp.ClientSession.put",
)

# Work that only makes sense in the web process: releasing its locks and semaphores.
DEFAULT_IN_PROCESS_CALLS: tuple[str, ...] = (
    "*.release",
    "*.cleanup",
)

# Removing files on the web host (the request's temporary files): a tie that moves with the
# task once the file travels as bytes or through shared storage.
DEFAULT_HOST_FILE_CALLS: tuple[str, ...] = (
    "os.remove",
    "os.unlink",
    "os.rmdir",
    "shutil.rmtree",
    "*.unlink",
    "*.rmdir",
)

# Writing files on the host (documents, exports, reports the web process serves or reads):
# a worker writes them on its own host. ``open`` in a writing mode is found as well.
DEFAULT_HOST_OUTPUT_CALLS: tuple[str, ...] = (
    "os.makedirs",
    "os.mkdir",
    "*.mkdir",
    "*.write_text",
    "*.write_bytes",
    "shutil.copy*",
    "shutil.move",
    "*Document.save",
    "*.savefig",
    "*.to_csv",
    "*.to_excel",
    "*.to_parquet",
)

_LIST_KEYS = {
    "exclude": "exclude",
    "extend-exclude": "extend_exclude",
    "select": "select",
    "ignore": "ignore",
    "slow-calls": "slow_calls",
    "blocking-calls": "blocking_calls",
    "must-not-lose-calls": "must_not_lose_calls",
    "in-process-calls": "in_process_calls",
    "host-file-calls": "host_file_calls",
    "host-output-calls": "host_output_calls",
    "unbounded-loops": "unbounded_loops",
    "extend-slow-calls": "extend_slow_calls",
    "extend-must-not-lose-calls": "extend_must_not_lose_calls",
    "paths": "paths",
}
_BOOL_KEYS = {"respect-gitignore": "respect_gitignore", "cache": "cache"}
_INT_KEYS = {"max-file-size": "max_file_size"}
_CHOICE_KEYS = {"fail-on": ("fail_on", FailOn)}

DEFAULT_MAX_FILE_SIZE = 4_000_000
MAX_PYPROJECT_BYTES = 10_000_000
"""A larger ``pyproject.toml`` is refused rather than parsed."""
SETTINGS_TABLE = "settings"
"""``[tool.bgmigrate.settings]``: the runtime's settings (``bgmigrate.settings``), not scan's."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class CodemodConfig:
    """Effective configuration of ``scan``/``rewrite``: ``[tool.bgmigrate]`` overridden by flags."""

    paths: tuple[str, ...] = (".",)
    """Paths scanned when none are given on the command line."""
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    """Directory or file name patterns never scanned (replaces the defaults)."""
    extend_exclude: tuple[str, ...] = ()
    """Patterns excluded in addition to ``exclude``."""
    select: tuple[str, ...] = ()
    """Rule codes (or prefixes such as ``BGM1``) reported; empty means all."""
    ignore: tuple[str, ...] = ()
    """Rule codes (or prefixes) never reported, and path patterns never scanned."""
    slow_calls: tuple[str, ...] = DEFAULT_SLOW_CALLS
    """Callee patterns that make a task likely to outgrow the in-process limit (BGM101)."""
    extend_slow_calls: tuple[str, ...] = ()
    """Patterns added to ``slow_calls``."""
    blocking_calls: tuple[str, ...] = DEFAULT_BLOCKING_CALLS
    """Callee patterns that block the event loop inside an ``async def`` task (BGM106)."""
    must_not_lose_calls: tuple[str, ...] = DEFAULT_MUST_NOT_LOSE_CALLS
    """Callee patterns for work that must not be lost (BGM102)."""
    extend_must_not_lose_calls: tuple[str, ...] = ()
    """Patterns added to ``must_not_lose_calls``."""
    in_process_calls: tuple[str, ...] = DEFAULT_IN_PROCESS_CALLS
    """Callee patterns for work that must stay in the web process (BGM107)."""
    host_file_calls: tuple[str, ...] = DEFAULT_HOST_FILE_CALLS
    """Callee patterns that remove files on the web host (BGM111)."""
    host_output_calls: tuple[str, ...] = DEFAULT_HOST_OUTPUT_CALLS
    """Callee patterns that write files on the host (BGM117)."""
    unbounded_loops: tuple[str, ...] = DEFAULT_UNBOUNDED_LOOPS
    """Loops (over these callees' results, or ``while True``) of unknown length (BGM101)."""
    respect_gitignore: bool = True
    """Skip files that ``.gitignore`` files ignore."""
    cache: bool = True
    """Keep per-file results in ``.bgmigrate_cache/`` keyed by content, version and config."""
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    """Files larger than this many bytes are skipped (and reported), never read."""
    fail_on: FailOn = FailOn.MIGRATE
    """The least verdict that makes ``scan`` exit 1 (``never``: no verdict does)."""

    def with_overrides(self, **changes: Any) -> CodemodConfig:
        """A copy with the non-``None`` ``changes`` applied (command-line flags win)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON data, with the TOML key names."""
        choices = {k: field for k, (field, _) in _CHOICE_KEYS.items()}
        names = {v: k for k, v in {**_LIST_KEYS, **_BOOL_KEYS, **_INT_KEYS, **choices}.items()}
        return {
            names[f.name]: list(value) if isinstance(value, tuple) else value
            for f in dataclasses.fields(self)
            for value in [getattr(self, f.name)]
        }

    def fingerprint(self) -> str:
        """A stable hash of everything that changes results (part of the cache key)."""
        data = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(data).hexdigest()[:16]


def _parse_table(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    valid = sorted({*_LIST_KEYS, *_BOOL_KEYS, *_INT_KEYS, *_CHOICE_KEYS, SETTINGS_TABLE})
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in _CHOICE_KEYS:
            field, choice = _CHOICE_KEYS[key]
            values[field] = _choice(key, value, choice, source)
        elif key in _INT_KEYS:
            if type(value) is not int or value < 1:
                raise ConfigError(f"{source}: [tool.bgmigrate] {key} must be a positive integer")
            values[_INT_KEYS[key]] = value
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: [tool.bgmigrate] {key} must be true or false")
            values[_BOOL_KEYS[key]] = value
        elif key in _LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: [tool.bgmigrate] {key} must be a list of strings")
            values[_LIST_KEYS[key]] = tuple(value)
            if key == "paths":
                _check_relative(value, source)
        else:
            raise ConfigError(
                f"{source}: unknown key {key!r} in [tool.bgmigrate]; valid keys: {', '.join(valid)}"
            )
    return values


def _choice(key: str, value: object, choice: type[FailOn], source: str) -> FailOn:
    """``value`` as a member of ``choice``, or a ``ConfigError`` listing the allowed ones."""
    allowed = [c.value for c in choice]
    if value not in allowed:
        raise ConfigError(f"{source}: [tool.bgmigrate] {key} must be one of {', '.join(allowed)}")
    return choice(value)


def _check_relative(paths: list[str], source: str) -> None:
    """A configured path stays inside the project: a cloned repository's ``pyproject.toml``
    must not point ``rewrite`` at ``/etc`` or ``../elsewhere``."""
    for path in paths:
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ConfigError(
                f"{source}: [tool.bgmigrate] paths must be relative and inside the project, "
                f"not {path!r}; give such a path on the command line instead"
            )


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    start = start.resolve()
    for directory in [start, *start.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_tool_table(pyproject: Path) -> dict[str, Any]:
    """The ``[tool.bgmigrate]`` table of ``pyproject`` (empty when absent); a clear
    ``ConfigError`` when the file cannot be read or the table is not a table."""
    try:
        if pyproject.stat().st_size > MAX_PYPROJECT_BYTES:
            raise ConfigError(f"{pyproject}: larger than {MAX_PYPROJECT_BYTES:,} bytes; not read")
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read configuration: {exc}") from exc
    except (RecursionError, MemoryError) as exc:  # a TOML bomb: nesting deeper than the stack
        raise ConfigError(f"{pyproject}: cannot read configuration: nested too deeply") from exc
    table = data.get("tool", {}).get("bgmigrate", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.bgmigrate] must be a table")
    return table


def load_config(pyproject: Path | None) -> CodemodConfig:
    """Read ``[tool.bgmigrate]`` from ``pyproject`` (defaults when absent or ``None``)."""
    if pyproject is None:
        return CodemodConfig()
    table = read_tool_table(pyproject)
    table = {k: v for k, v in table.items() if k != SETTINGS_TABLE}
    return CodemodConfig(**_parse_table(table, str(pyproject)))
