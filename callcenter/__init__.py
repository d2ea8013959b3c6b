"""Hotline: a telephony-integrated help desk and call centre."""
