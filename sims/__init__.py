"""NumPy simulations: layers with hand-written backward passes, models, optimizers,
the text corpus, cached ensemble sweeps, and the measurements shared by figures and claims."""
