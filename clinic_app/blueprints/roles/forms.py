from wtforms import IntegerField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ...forms import AppForm, strip_text
from ...services.roles import PERMISSION_KEYS, role_name_taken


class RoleForm(AppForm):
    """A role: name (custom roles only), level, and the permission matrix as "resource:action" keys."""

    name = StringField("Name", filters=[strip_text], validators=[
        DataRequired(message="Enter a name for the role."), Length(max=60, message="Use at most 60 characters.")])
    level = IntegerField(
        "Level (optional)", invalid_value_message="Enter the level as a whole number from 0 to 100.",
        validators=[Optional(), NumberRange(min=0, max=100, message="Enter a level from 0 to 100.")])
    permissions = SelectMultipleField("Permissions", choices=[SelectChoice(k) for k in PERMISSION_KEYS],
                                      invalid_choice_message="'%(value)s' is not a permission this matrix offers.")

    def __init__(self, *args, role=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._role = role
        if role is not None and role.system:
            del self.name  # default roles keep their names

    def validate_name(self, field):
        if role_name_taken(field.data, exclude=self._role):
            raise ValidationError(f"A role named {field.data} already exists.")
