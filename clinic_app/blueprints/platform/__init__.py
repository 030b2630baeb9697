"""The platform operator console (apex only): clinics, operator actions, jobs, message stats."""
