"""`billow`: commands for the local stack (started with `make run`).

Each command is one function registered on `app`; shared helpers (the signing key, the running API,
failing with an actionable message) live at the top so later commands (bill, emails, audit, dlq)
reuse them. Results go to stdout, progress and errors to stderr, so `TOKEN=$(billow token)` works.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console

from local import stack, tokens

app = typer.Typer(
    name="billow",
    help="Tools for billow's local stack (start it with `make run`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True, soft_wrap=True, highlight=False)

KNOWN_SCOPES = ("billing:read", "billing:write", "billing:admin", "billing:usage")
CLI_OPERATOR_SUB = "billow-cli"


@app.callback()
def main() -> None:
    """Tools for billow's local stack (start it with `make run`)."""


# --- shared helpers --------------------------------------------------------------------------------


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def admin_client() -> stack.ApiClient:
    """An operator (billing:admin) client for the running local API, or an actionable failure."""
    try:
        key = stack.load_key()
        url = stack.api_url()
    except stack.StackError as exc:
        fail(str(exc))
    return stack.ApiClient(url, tokens.mint(key, CLI_OPERATOR_SUB, stack.ADMIN_SCOPES, ttl=300))


def explain_api_error(exc: stack.ApiError, what: str) -> NoReturn:
    if exc.status == 401:
        fail(
            f"{what}: the API refused the CLI's token ({exc}). Was the running stack started with another "
            f"key? It signs with {stack.key_path()} (set BILLOW_LOCAL_DIR to the stack's directory)."
        )
    fail(f"{what}: {exc}")


# --- commands ---------------------------------------------------------------------------------------


@app.command()
def token(
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Grant the subject owner membership on this account (repeatable)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="A scope to put in the token (repeatable); replaces the default ones."),
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Add billing:admin (operator routes on any account).")] = False,
    ttl: Annotated[int, typer.Option("--ttl", min=1, help="Lifetime in seconds.")] = stack.TOKEN_TTL,
    sub: Annotated[
        str, typer.Option("--sub", help="The token's subject (the caller's identity).")
    ] = stack.CUSTOMER_SUB,
) -> None:
    """Print a token for the local stack, signed with the local key (.local/jwt-private.pem).

    Default scopes: billing:read billing:write (--scope replaces them, --admin adds billing:admin).

    With --account, the subject is also granted owner membership on each account, through the running API.
    """
    scopes = list(dict.fromkeys(scope)) if scope else list(stack.READ_WRITE)
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        fail(f"unknown scope {', '.join(unknown)}; use one of {', '.join(KNOWN_SCOPES)}", code=2)
    if admin and "billing:admin" not in scopes:
        scopes.append("billing:admin")
    if not sub.strip():
        fail("--sub must not be empty", code=2)
    try:
        key = stack.load_key()
    except stack.StackError as exc:
        fail(str(exc))
    if account:
        client = admin_client()
        for account_id in dict.fromkeys(account):
            try:
                member = client.grant(account_id, sub, "owner")
            except stack.ApiError as exc:
                explain_api_error(exc, f"granting {sub} on {account_id}")
            except stack.StackError as exc:
                fail(str(exc))
            err.print(f"granted [bold]{member['sub']}[/] {member['role']} on {member['account_id']}")
    typer.echo(tokens.mint(key, sub, scopes, ttl=ttl))


if __name__ == "__main__":
    app()
