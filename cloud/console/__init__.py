"""The operator console and the customer tracking page, served by the cloud.

Server-rendered HTML plus small vanilla JS/CSS from ``static/`` (no CDN, no build step). Users log
in with a password (``retailedge cloud set-password``) and get an HttpOnly session cookie; the
console's JSON and Server-Sent-Events endpoints apply the same roles as the API.
"""
