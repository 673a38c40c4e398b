"""Built-in conditioners: embedding, one-hot, word vectors, projection, auxiliary classifier.

Registered through the ``cganzoo`` entry-point group like any third-party
plugin, using only cganzoo's public API. Every factory takes the role it is
built for (``"generator"`` or ``"discriminator"``); ``projection`` and
``auxiliary-classifier`` give the generator a learned embedding and condition
the discriminator through its features.

One module each: :mod:`cganzoo_conditioners.embedding`,
:mod:`cganzoo_conditioners.one_hot`, :mod:`cganzoo_conditioners.word_vectors`
(its text encoders in :mod:`cganzoo_conditioners.text_encoders`),
:mod:`cganzoo_conditioners.projection` and
:mod:`cganzoo_conditioners.auxiliary`; this module registers them.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_conditioners.auxiliary import AuxiliaryClassifierParams, make_auxiliary_classifier
from cganzoo_conditioners.embedding import EmbeddingConditioner, EmbeddingParams
from cganzoo_conditioners.one_hot import OneHotConditioner
from cganzoo_conditioners.projection import ProjectionParams, make_projection
from cganzoo_conditioners.word_vectors import WordVectorsConditioner, WordVectorsParams


@hookimpl
def register_conditioners(register):
    register("embedding", EmbeddingConditioner, params=EmbeddingParams,
             description="learned label embedding nn.Embedding(n_classes, cond_dim) (the reference's)")
    register("one-hot", OneHotConditioner,
             description="fixed one-hot label code (Mirza & Osindero 2014, Sec. 4.1)")
    register("word-vectors", WordVectorsConditioner, params=WordVectorsParams,
             description="class names as text: frozen text encoder (all-MiniLM-L6-v2 or a word2vec/GloVe file) "
                         "+ learned projection; samples from unseen phrasings")
    register("projection", make_projection, params=ProjectionParams,
             description="D: inner product of a class embedding with D's features (Miyato & Koyama 2018); "
                         "G: learned embedding")
    register("auxiliary-classifier", make_auxiliary_classifier, params=AuxiliaryClassifierParams,
             description="D predicts the class, cross-entropy in both losses (AC-GAN, Odena et al. 2017); "
                         "G: learned embedding")
