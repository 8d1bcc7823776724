"""Analysis runs on disk:

runner          ChunkedRun: the only chunk loop (locked, fingerprinted, resumable)
store           reads finished runs: summary, settings and typed results; imports no
                analysis and nothing of training
chunk_files     the chunk files: written atomically with their identity, joined by index
identity        settings.json and the identity digest of each chunk
fingerprint     a model's identity: a SHA-256 of its weights
chunk_examples  the test examples of one chunk, as the TFDS test split stores them
strict_json     JSON with inf and NaN as strings
ford_stages     the stages of `experiments.noise_analysis`
"""
