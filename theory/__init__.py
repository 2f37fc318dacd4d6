"""The paper's claims as executable math: closed forms, bounds, conditions and symbolic statements."""
