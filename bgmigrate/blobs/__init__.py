"""Files that travel with their job (claim check): stores, references, and both ends of a job.

The web process puts an ``UploadFile``, a ``LocalFile`` path or a large ``bytes`` argument in
the blob store named by ``BGMIGRATE_BLOB_STORE`` (:mod:`.stores`) and the job carries a
:class:`~bgmigrate.blobs.claim.BlobRef` (:mod:`.claim`); the worker fetches it back as the
annotated type and deletes the blob once the job succeeds (:mod:`.redeem`).
"""
