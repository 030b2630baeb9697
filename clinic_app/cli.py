"""flask commands: create-tenant, seed-demo, ensure-indexes."""
import click
from flask import current_app

from .extensions import ensure_indexes


def register_cli(app):
    @app.cli.command("ensure-indexes")
    def ensure_indexes_command():
        """Create every collection's indexes (idempotent)."""
        ensure_indexes()
        click.echo("indexes ensured")

    @app.cli.command("create-tenant")
    @click.argument("subdomain")
    @click.option("--name", required=True, help="Clinic name")
    @click.option("--timezone", default="UTC")
    @click.option("--currency", default="USD")
    def create_tenant_command(subdomain, name, timezone, currency):
        """Create a clinic on a 7-day trial."""
        from .models import Tenant
        from .services.tenants import create_tenant

        if Tenant.objects(subdomain=subdomain).first():
            raise click.ClickException(f"a clinic already uses {subdomain!r}")
        tenant = create_tenant(name, subdomain, timezone=timezone, currency=currency)
        click.echo(f"created {tenant} -> {_url(tenant)}")

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo clinic `demo` (idempotent) and print where to open it."""
        from .services.demo import seed_demo

        tenant, created = seed_demo()
        click.echo(("created " if created else "found ") + str(tenant))
        click.echo(f"apex:        {_url(None)}")
        click.echo(f"demo clinic: {_url(tenant)}")


def _url(tenant):
    from .tenancy import canonical_url

    return canonical_url(tenant, "/")
