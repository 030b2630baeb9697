"""flask commands (ensure-indexes, create-tenant, seed-demo, operators, time travel, ...).

An entry point at the top of the layers: it calls services, and nothing imports it but create_app.
"""
import click
from flask import current_app

from . import clock
from .extensions import ensure_indexes, redis_conn
from .models import Tenant
from .services.demo import demo_logins, seed_demo
from .services.labs.catalogue import load_starter_for_clinics
from .services.onboarding import SubdomainTaken, provision_clinic
from .services.passwords import password_problem
from .services.pharmacy.allergies import migrate_string_allergies
from .services.pharmacy.stock import check_ledger
from .services.platform import OperatorProblem, create_operator, set_operator_active, set_operator_password
from .services.roles import grant_new_resources
from .tenancy import tenant_context
from .web import canonical_url


def register_cli(app):
    @app.cli.command("ensure-indexes")
    def ensure_indexes_command():
        """Create every collection's indexes (idempotent)."""
        ensure_indexes()
        roles = grant_new_resources()
        allergies = migrate_string_allergies()
        click.echo(f"indexes ensured; {roles} default roles given new resources; "
                   f"{allergies} patients' allergies structured")

    @app.cli.command("check-stock")
    def check_stock_command():
        """Prove every batch's on-hand equals the sum of its stock movements, in every clinic."""
        bad = 0
        for tenant in Tenant.objects:
            with tenant_context(tenant):
                for batch_id, on_hand, ledger in check_ledger():
                    bad += 1
                    click.echo(f"{tenant.subdomain}: batch {batch_id} on hand {on_hand} != movements {ledger}")
        if bad:
            raise click.ClickException(f"{bad} batch(es) disagree with the ledger")
        click.echo("stock ledger consistent: every batch's on-hand equals the sum of its movements")

    @app.cli.command("time-travel")
    @click.option("--days", type=float, default=0.0)
    @click.option("--hours", type=float, default=0.0)
    @click.option("--reset", is_flag=True, help="Back to real time")
    def time_travel_command(days, hours, reset):
        """Move this deployment's clock (TIME_TRAVEL=1, never in production)."""
        if not current_app.config["TIME_TRAVEL"]:
            raise click.ClickException("time travel is off: set TIME_TRAVEL=1 (refused in production)")
        installed = clock.current()
        offset_clock = installed if isinstance(installed, clock.OffsetClock) else clock.OffsetClock(redis_conn())
        total = 0.0 if reset else offset_clock.offset() + days * 86400 + hours * 3600
        offset_clock.set_offset(total)
        click.echo(f"clock offset is now {total / 86400:.2f} days; now = {offset_clock.now().isoformat()}")

    @app.cli.command("operator-access")
    @click.argument("email")
    @click.option("--disable/--enable", default=True, help="Disable (default; signs them out) or enable")
    def operator_access_command(email, disable):
        """Disable or re-enable a platform operator."""
        try:
            operator = set_operator_active(email, active=not disable)
        except OperatorProblem as exc:
            raise click.ClickException(str(exc))
        click.echo(f"{operator} is now {'disabled (signed out everywhere)' if disable else 'enabled'}")

    @app.cli.command("operator-password")
    @click.argument("email")
    def operator_password_command(email):
        """Set a platform operator's password (prompts twice); signs them out everywhere."""
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        try:
            operator = set_operator_password(email, password)
        except OperatorProblem as exc:
            raise click.ClickException(str(exc))
        click.echo(f"password changed for {operator}; their sessions were revoked")

    @app.cli.command("create-tenant")
    @click.argument("subdomain")
    @click.option("--name", required=True, help="Clinic name")
    @click.option("--timezone", default="UTC")
    @click.option("--currency", default="USD")
    @click.option("--admin-name", default="Clinic Admin")
    @click.option("--admin-email", required=True)
    @click.option("--admin-password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
    def create_tenant_command(subdomain, name, timezone, currency, admin_name, admin_email, admin_password):
        """Create a clinic on a 7-day trial."""
        if Tenant.objects(subdomain=subdomain).first():
            raise click.ClickException(f"a clinic already uses {subdomain!r}")
        problem = password_problem(admin_password, (admin_email, name, subdomain, admin_name))
        if problem:
            raise click.ClickException(problem)
        try:
            tenant, _ = provision_clinic(name=name, subdomain=subdomain, admin_name=admin_name,
                                         admin_email=admin_email, password=admin_password,
                                         timezone=timezone, currency=currency)
        except SubdomainTaken:
            raise click.ClickException(f"a clinic already uses {subdomain!r}")
        click.echo(f"created {tenant} -> {_url(tenant)} (admin {admin_email})")

    @app.cli.command("create-operator")
    @click.argument("email")
    @click.option("--name", required=True, help="The operator's name")
    def create_operator_command(email, name):
        """Create a platform operator (console at /platform/ on the apex); prompts for the password twice."""
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            operator = create_operator(email, name, password)
        except OperatorProblem as exc:
            raise click.ClickException(str(exc))
        click.echo(f"created operator {operator} -> {_url(None).rstrip('/')}/platform/")

    @app.cli.command("load-lab-catalogue")
    @click.argument("subdomain", required=False)
    def load_lab_catalogue_command(subdomain):
        """Add the starter lab tests, panels and new reference ranges (e.g. children's) a clinic lacks
        (one clinic, or all without SUBDOMAIN); idempotent, never overwrites a clinic's own edits."""
        found = False
        for tenant, loaded in load_starter_for_clinics(subdomain):
            found = True
            click.echo(f"{tenant.subdomain}: {loaded.tests} tests, {loaded.panels} panels and "
                       f"{loaded.ranges} reference ranges added")
        if subdomain and not found:
            raise click.ClickException(f"no clinic uses {subdomain!r}")

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo clinic `demo` (idempotent) and print where to open it."""
        tenant, created = seed_demo()
        click.echo(("created " if created else "found ") + str(tenant))
        for role, email in demo_logins():
            click.echo(f"  {role:<24} {email}")
        click.echo(f"  password (all):          {current_app.config['DEMO_PASSWORD']}")
        click.echo(f"apex:        {_url(None)}")
        click.echo(f"demo clinic: {_url(tenant)}")


def _url(tenant):
    return canonical_url(tenant, "/")
