"""SAM-X model code (torch only; no Ray, no MinIO): plain tensors in, tensors out.

Hinterwimmer et al., "SAM-X", Eur Radiol 2023. Phase 1 follows SCAN (Van Gansbeke et al., ECCV 2020,
arXiv:2005.12320): SimCLR pretext (Chen et al., arXiv:2002.05709) -> k nearest neighbours -> SCAN
cluster heads -> optional self-labeling; a radiologist names the clusters. Phase 2 injects the names:
the phase-1 backbone gets a new head and is fine-tuned on them.

Modules:
- ``augment``: batched radiograph views (``random_view``), ``eval_transform``; ``corruptions``: robustness set
- ``backbone``: ``build_backbone("resnet18"|"resnet50")``, 1 channel in, (B, 512|2048) out
- ``simclr``: ``SimCLRModel``, ``ProjectionHead``, ``nt_xent_loss``; ``pretext``: ``pretext_epoch`` (the one pretext
  loop), ``train_pretext``, ``embed``
- ``neighbors``: ``mine_neighbors``, ``neighbor_accuracy``
- ``scan``: ``ClusterHeads``, ``scan_loss``; ``self_label``: ``self_label_loss``, collapse check
- ``clustering``: ``feature_bank``, ``train_scan``, ``self_label``, ``assign``
- ``k_rule``: ``choose_k``; ``labelsets``: ``parse_label_sets``; ``metrics``: cluster and classifier metrics
- ``classifier``: ``Classifier``, ``classifier_epoch`` (the one phase-2 loop), ``train_classifier``,
  ``predict_proba``, ``soft_targets``
- ``profiles``: ``get_profile("ci"|"dev"|"gpu")``; ``runtime``: device, progress, epoch planner;
  ``compute``: ``resolve_policy`` (bf16 / channels_last where measured faster)
"""
