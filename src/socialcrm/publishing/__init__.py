"""Publishing (layer L4): composing and editing posts (``compose``), review, cancelling and the
records around posts (``service``), publishing exactly once (``sending``, worker side),
engagement metrics and campaign attribution. May import ``core`` and packages of layers L0 to L3
(``providers``, ``tenancy``, ``crm``, ``connections``, ``listening``, …)."""
