"""The OneRoster 1.2 Rostering face.

`routes` holds the 41 GET paths and the OAuth token endpoint, `oauth` the tokens and scopes,
`errors` the imsx_StatusInfo failure payload.
"""
