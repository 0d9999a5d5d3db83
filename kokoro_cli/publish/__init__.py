"""Publishing an output folder as a podcast: episodes, the RSS feed, its state and updates.

``episodes``  audio files as frozen :class:`Episode` records (probe, digest, job finish time)
``categories`` Apple Podcasts' category list and the parser of ``--category``
``feed``      pure builders: the RSS 2.0 feed (feedgen, iTunes and Podcasting 2.0 tags) and
              each episode's JSON chapters
``state``     ``.kokoro-feed.json`` in the folder: remembered settings and episode records
``update``    :func:`update_feed`: scan, write chapters and feed atomically, keep and prune
"""

from kokoro_cli.publish.update import (FeedResult, FeedSettings, check_settings, prepare_image,
                                      update_feed)

__all__ = ["FeedResult", "FeedSettings", "check_settings", "prepare_image", "update_feed"]
