"""flask create-tenant, seed-demo, ensure-indexes."""
from clinic_app.models import Role, Settings, Tenant, User
from clinic_app.tenancy import tenant_context

ADMIN = ["--admin-email", "boss@sunrise.test", "--admin-password", "correct horse battery staple"]


def test_create_tenant_refuses_a_weak_admin_password(app):
    result = app.test_cli_runner().invoke(args=["create-tenant", "weak", "--name", "Weak",
                                                "--admin-email", "a@weak.test", "--admin-password", "password1234"])
    assert result.exit_code != 0 and "common" in result.output
    with app.app_context():
        assert Tenant.objects(subdomain="weak").count() == 0


def test_create_tenant_command_makes_a_trial_clinic_with_settings(app):
    result = app.test_cli_runner().invoke(args=["create-tenant", "sunrise", "--name", "Sunrise Clinic",
                                                "--timezone", "Europe/London", *ADMIN])
    assert result.exit_code == 0, result.output
    assert "http://sunrise.localhost:5000/" in result.output
    with app.app_context():
        tenant = Tenant.objects.get(subdomain="sunrise")
        assert tenant.subscription.plan == "trial"
        with tenant_context(tenant):
            assert Settings.current().timezone == "Europe/London"
            admin = User.objects.get(email="boss@sunrise.test")
            assert admin.role.name == "Admin" and Role.objects.count() == 6


def test_create_tenant_refuses_a_taken_subdomain(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-tenant", "sunrise", "--name", "One", *ADMIN])
    result = runner.invoke(args=["create-tenant", "sunrise", "--name", "Two", *ADMIN])
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
