def test_apex_landing_renders_the_layout(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"<html" in response.data
    assert b"htmx-2.0.11.min.js" in response.data


def test_clinic_subdomain_serves_its_own_dashboard(client, clinic_a, login_as):
    assert client.get("/", tenant=clinic_a).status_code == 302  # sign in first
    login_as(clinic_a, "Doctor")
    response = client.get("/", tenant=clinic_a)
    assert response.status_code == 200
    assert b"Clinic A" in response.data
