"""web.render_form: the status a form is form_app with, and page or fragment by request kind."""
import pytest
from flask import Flask
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from wtforms import StringField

from clinic_app.web import render_form

PAGE = "<html><body>{% block form %}<form>{{ form.name.data or '' }}|{{ note }}</form>{% endblock %}</body></html>"


class NameForm(FlaskForm):
    name = StringField()


@pytest.fixture
def form_app():
    """A client of a one-route app whose view answers `render_form`, with `status` from ?status=."""
    app = Flask("render_form_test")
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    app.jinja_loader = DictLoader({"page.html": PAGE})

    @app.route("/", methods=["GET", "POST"])
    def view():
        status = app.config.get("STATUS")
        return render_form("page.html", NameForm(), status=status, note="hi")

    return app


def test_a_fresh_form_is_200_and_a_submitted_one_shown_again_is_422(form_app):
    client = form_app.test_client()
    fresh, posted = client.get("/"), client.post("/", data={"name": "Ada"})
    assert fresh.status_code == 200 and "<html>" in fresh.text and "<form>|hi</form>" in fresh.text
    assert posted.status_code == 422 and "<form>Ada|hi</form>" in posted.text


def test_an_explicit_status_wins(form_app):
    form_app.config["STATUS"] = 409
    assert form_app.test_client().post("/", data={"name": "Ada"}).status_code == 409


def test_an_htmx_swap_gets_the_form_block_alone_with_vary(form_app):
    response = form_app.test_client().post("/", data={"name": "Ada"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response.text == "<form>Ada|hi</form>" and "<html>" not in response.text
    assert "HX-Request" in response.headers["Vary"]
