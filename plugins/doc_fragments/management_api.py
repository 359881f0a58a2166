"""The management API connection options every module of the kit takes (module_utils/management_api.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_url: {description: 'The management API, for example http://127.0.0.1:15672/api.', type: str, required: true}
  api_user: {description: An administrator of the broker., type: str, required: true}
  api_password: {description: Its password (never logged)., type: str, required: true}
  ca_path: {description: CA certificate that signed the API's certificate (HTTPS)., type: path}
"""
