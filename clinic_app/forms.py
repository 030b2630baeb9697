"""The base of every form the app posts: Flask-WTF's FlaskForm, reading web forms only.

FlaskForm feeds a JSON request body to the fields (`ImmutableMultiDict(request.get_json())`),
so a JSON number, list, null or object sent to a page's form endpoint reached
the fields as non-strings, or crashed building the dict: a 500. Pages take
web forms; the JSON API is /api/v1 (pydantic bodies). So a JSON body sent to
a form is refused up front with 415, before any field or view code sees it.
"""
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.exceptions import UnsupportedMediaType

SEND_A_FORM = ("This address takes a web form (application/x-www-form-urlencoded or multipart/form-data), "
               "not JSON. The JSON API is under /api/v1/.")


class AppForm(FlaskForm):
    """Every posted form's base class (a test checks that each FlaskForm inherits it)."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is _Auto and request and request.method in ("POST", "PUT", "PATCH", "DELETE") \
                    and request.is_json:
                raise UnsupportedMediaType(SEND_A_FORM)
            return super().wrap_formdata(form, formdata)
