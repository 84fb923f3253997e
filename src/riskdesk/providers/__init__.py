"""The provider: the cloud reseller programme riskdesk acts on (Partner Center), behind `Provider`.

base.py            the `Provider` protocol (the narrow interface riskdesk needs)
records.py         pydantic models of the Partner Center wire JSON
errors.py          ProviderError tree (transient / permanent / malformed response)
partner_center.py  `PartnerCenter`, the REST client's resource methods
pc_http.py         its HTTP layer: headers, paging, retries, error mapping
clouds.py          the global and 21Vianet clouds (base URL, authority, scope)
auth.py            token providers (msal app-only, app+user, a static token)
settings.py        `ProviderSettings` and `build_provider`
sandbox/           a local Partner-Center-compatible HTTP server
"""
