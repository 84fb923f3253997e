"""The use cases: one function per thing a person or a schedule asks riskdesk to do.

Each takes its inputs, the actor, and the `Deps` built once by `riskdesk.app.bootstrap`.
Surfaces (the CLI now; the API, the desk and the scheduler next) call these and nothing
below them; the rules of an operation live here or in the domain modules, never in a surface.
"""
