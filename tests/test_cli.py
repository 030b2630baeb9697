"""flask create-tenant, seed-demo, ensure-indexes."""
from clinic_app.models import Settings, Tenant
from clinic_app.tenancy import tenant_context


def test_create_tenant_command_makes_a_trial_clinic_with_settings(app):
    result = app.test_cli_runner().invoke(args=["create-tenant", "sunrise", "--name", "Sunrise Clinic",
                                                "--timezone", "Europe/London"])
    assert result.exit_code == 0, result.output
    assert "http://sunrise.localhost:5000/" in result.output
    with app.app_context():
        tenant = Tenant.objects.get(subdomain="sunrise")
        assert tenant.subscription.plan == "trial"
        with tenant_context(tenant):
            assert Settings.current().timezone == "Europe/London"


def test_create_tenant_refuses_a_taken_subdomain(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-tenant", "sunrise", "--name", "One"])
    result = runner.invoke(args=["create-tenant", "sunrise", "--name", "Two"])
    assert result.exit_code != 0 and "already uses" in result.output
    with app.app_context():
        assert Tenant.objects(subdomain="sunrise").count() == 1


def test_seed_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    assert "created" in runner.invoke(args=["seed-demo"]).output
    second = runner.invoke(args=["seed-demo"])
    assert "found" in second.output and "http://demo.localhost:5000/" in second.output
    with app.app_context():
        assert Tenant.objects(subdomain="demo").count() == 1


def test_ensure_indexes_creates_tenant_prefixed_indexes(app):
    import mongoengine

    result = app.test_cli_runner().invoke(args=["ensure-indexes"])
    assert result.exit_code == 0
    with app.app_context():
        info = mongoengine.get_db()["outbound_messages"].index_information()
        keys = [spec["key"] for name, spec in info.items() if name != "_id_"]
        assert keys and all(k[0][0] == "tenantId" for k in keys)
