"""Clinical knowledge as validated data: every number with its source and evidence."""

from dermaplan.knowledge.loader import KnowledgeBase, KnowledgeError, load_knowledge

__all__ = ["KnowledgeBase", "KnowledgeError", "load_knowledge"]
