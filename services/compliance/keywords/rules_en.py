"""The English plain-language opt-out rules (in order: the first that matches names the match)."""

from __future__ import annotations

from services.compliance.keywords.vocab import (
    _ADJ,
    _CONTACTING,
    _DET,
    _FILLER,
    _LIST,
    _ME,
    _MSG,
    _MSG_OBJ,
    _STOP_VERB,
    _THIS,
    _r,
    _Rule,
)

EN_RULES: tuple[_Rule, ...] = (
    # "stop sending me these", "quit texting me", "stop bothering me with these texts", "stop calling and texting"
    _r("stop_texting_me", "en", rf"{_STOP_VERB}\s{_CONTACTING}(?:\s{_ME})?(?:\s(?:{_MSG_OBJ}|{_THIS}))?"),
    # "stop the texts", "end these messages", "cancel text alerts", "cancel my subscription"
    _r("stop_the_messages", "en",
       rf"(?:{_STOP_VERB}|cancel|unsubscribe from|turn off|shut off|pause)\s(?:with\s)?{_MSG_OBJ}"),
    _r("no_such_texts", "en", rf"no\s(?:more\s)?(?:{_ADJ}\s){{1,2}}{_MSG}", anchored=True),
    _r("too_many_texts", "en", rf"(?:way\s|far\s)?too many {_MSG_OBJ}|(?:you|u) (?:text|message|send texts|send "
                               r"messages|are texting|are messaging|re texting|keep texting) (?:me )?(?:way |far |"
                               r"just )?too (?:much|often|many)"),
    _r("stop_then_sentence", "en",
       rf"^(?:{_FILLER}\s)*(?:stop|unsubscribe|stop it|stop now|stop texting|stop texting me)\s(?:this is|i am|i|"
       r"you are|you|we|who|it is|not|why|how|wrong|nobody|no one|whoever|leave|do not|never|this number)"),
    _r("stop_these", "en", r"(?:cancel|stop|end|quit)\s(?:these|them|those|all of these|all of this|this crap|this "
                           r"stuff|all these)", anchored=True),
    _r("cancel_subscription", "en",
       r"(?:cancel|end|terminate|stop|ending|canceling|cancelling|terminating|stopping)\s(?:my\s|the\s|this\s|your\s|"
       r"our\s)?(?:text\s|sms\s)?subscription"
       # "end my subscription to the premium plan": some other subscription
       rf"(?!\s(?:to|for|of|on)\s(?!{_MSG_OBJ}|{_LIST}|this\b|these\b|you\b))"),
    # "stop receiving these", "I'd like to stop getting texts"
    _r("stop_receiving", "en", rf"(?:stop|quit|cease)\s(?:receiving|getting)\s(?:{_MSG_OBJ}|{_THIS})"),
    # "don't text me", "do not contact me again", "never message this number", "do not text"
    _r("do_not_text_me", "en",
       rf"(?:do not|never|please do not|do not ever|never ever|(?:can|could|would|will) you (?:please )?not)\s"
       rf"(?:ever\s)?(?:text|message|sms|contact|spam|reach out to|reach out|"
       rf"bother(?=\s{_ME})|email|hit)(?>(?:\s{_ME})?)(?:\s(?:again|anymore|any more|ever again|up))*"
       # "don't text me the pin": something by text
       rf"(?!\s(?:the|a|an|my|his|her|their|that|those|it|what)\s(?!{_MSG}\b))"),
    # "don't send me any more texts", "don't send me anything else"
    _r("do_not_send", "en",
       rf"(?:do not|never|please do not)\s(?:ever\s)?send\s(?:{_ME}\s)?(?:(?:any more|anymore|more|anything|"
       rf"anything else|further|any)\b(?:\s{_MSG_OBJ})?|{_MSG_OBJ}|{_THIS})"),
    # "no more texts", "no more of these"
    _r("no_more_texts", "en", rf"no more\s(?:(?:of\s)?{_MSG_OBJ}|of\s{_THIS}(?=$|\s(?:please|thanks|thank you|stop|now|ok|"
                              r"already|ever|again|pls)\b))"),
    _r("want_the_texts_to_stop", "en", rf"(?:want|would like|like|need|wish) {_MSG_OBJ} to (?:stop|end|cease|go away)"),
    # "enough with the texts"
    _r("enough_texts", "en", rf"enough\s(?:with\s|of\s)?{_MSG_OBJ}"),
    # "remove me", "remove my number from your list", "delete my number", "lose my number"
    _r("remove_from_list", "en",
       rf"(?:be\s)?(?:remove|removed|taken|deleted|dropped|take|delete)\s(?:\d+\s){{0,4}}(?:from|off|off of|out of)\s"
       rf"{_LIST}|"
       # "remove it from your list": a list proper after the object, not "remove it from this order"
       rf"(?:remove|delete|take|drop)\s(?:it|this number|this|that|them|this phone|the number)\s(?:from|off|off of|out "
       rf"of)\s(?:(?:{_DET}|ur|you)\s)?(?:(?:texting|text|sms|mailing|marketing|contact|messaging|subscriber|"
       rf"distribution|call|calling|promo|phone|mass)\s)?(?:list|lists|database|system|records|contacts|program)\b"),
    _r("want_to_be_removed", "en", r"(?:want|like|wish|need|would like|love) to be (?:removed|unsubscribed|taken off|"
                                   r"opted out|deleted)(?=$|\s(?:please|thanks|now|asap)\b)"),
    _r("no_permission", "en", r"(?:you|u) (?:do not|no longer|will not|never|never had|did not|did not have|never got|"
                              r"never received|never asked for|never asked) (?:have |had |get |got )?(?:my |any |our )?"
                              r"(?:permission|consent)"),
    _r("knock_it_off", "en", rf"(?:knock it off|cut it out)(?:\s(?:with\s)?{_MSG_OBJ})?(?!\s(?:of|from)\b)"),
    _r("with_the_texts", "en", rf"(?:stop it|cut it|quit it|knock it off|enough|chill|cool it|ease up|lay off|easy|calm "
                               rf"down|relax) with {_MSG_OBJ}|cut (?:out )?{_MSG_OBJ}|enough with (?:this|all this|this crap|"
                               r"this shit|it|all of this)$"),
    _r("mind_not_texting", "en", r"(?:do you |would you |could you |can you )?mind not (?:texting|messaging|contacting|"
                                 r"sending|spamming)"),
    _r("legal_threat", "en",
       r"(?:(?:contact|call|calling|get|contacting|getting|talk to) (?:my )?(?:lawyer|attorney)|(?:i will|ill|i am going "
       r"to|i am gonna|gonna) sue(?!\s(?:the|my|his|her|their|a|an|him|them)\b)|see you in court|tcpa(?= violation| violations| lawsuit| claim| complaint|$)|(?:violat\w*|under|breaking|breaking the) (?:the )?tcpa|legal action|lawsuit|(?:call|calling|get|getting|contact|"
       r"contacting) (?:the )?(?:cops|police)|my (?:lawyer|attorney) (?:will|is going to|is gonna|would)|(?:call|calling|contact|contacting|complain to|complaining to|email|"
       r"emailing|write to|writing to|report (?:you|this|u) to|reporting (?:you|this|u) to) (?:the )?(?:fcc|ftc|"
       r"attorney general|better business bureau|bbb))"),
    _r("no_interest", "en", r"(?:i have |i have got |i got |i |we have )?(?:no|lost|lost all|zero) interest(?: in (?:this|"
                            r"these|it|that|them|your \w+))?|(?:i am |we are )?not buying anything", anchored=True),
    _r("remove_alone", "en", r"(?:remove|remove me|remove us|delete me|take me off|unsubscribe me|remove her|remove him|"
                             r"remove them|remove this number|remove my number)", anchored=True),
    _r("rather_not", "en", rf"(?:rather|prefer|prefer to|like to) not (?:to )?(?:(?:get|receive|be getting|be receiving|"
                           rf"have|be sent) (?:{_MSG_OBJ}|these|them|any)|be (?:contacted|texted|messaged|bothered))"
                           rf"(?!\s(?:before|after|at|on|in|during|until|by|about)\b)|prefer no {_MSG}"),
    _r("do_not_send_alone", "en", r"(?:do not|never|please do not) send(?: me)?(?: anything| anymore| any more| more|"
                                  r" again)?", anchored=True),
    _r("remove_me", "en",
       rf"(?:remove|delete|erase|lose|forget|scratch|wipe|purge|scrub|forget you ever had|forget you have)\s(?:{_ME}|"
       rf"(?:all (?:of )?)?my (?:name|info|information|details|"
       r"contact info|data)|(?:his|her|their) (?:number|phone number|cell|info))"
       rf"(?:\s(?:from|off|out of|off of)\s{_LIST})?(?!\s(?:from|off|out|of|to|in|at|on|as|and add)\b)"),
    # "take me off your list", "get me off this list", "please take me off"
    _r("take_me_off", "en",
       rf"(?:take|took|taking|get|got|drop|dropped|cross|kick)\s(?:{_ME}|my (?:name|info|number))\s(?:off|out of|off of|"
       r"from|of)"
       rf"(?:\s{_LIST})?(?=$|\s(?:please|now|thanks|thank you|asap|already|immediately|for good|permanently|"
       rf"forever|right now|too|as well|again)\b)"),
    # "put me on your do not text list"
    _r("do_not_contact_list", "en",
       rf"(?:(?:put|add|place)\s{_ME}|(?:want|like|need|wish) to be(?: put| added| placed)?)\s(?:on|to)\s(?:(?:your|the|a)\s)?(?:do not (?:call|text|contact|disturb)|dnc|"
       rf"no (?:text|call|contact))"),
    # "unsubscribe me", "I want to opt out", "how do I unsubscribe", "I unsubscribed last week and..."
    _r("unsubscribe", "en", r"(?:unsubscribe|unsubscribed|unsubscribing|opt out|opting out|opted out|opt me out|"
                            r"opt us out|unsub|opt (?:this number|this phone|my number|my phone|this line) out)"
                            # "unsubscribe my daughter", "unsubscribe my old number": somebody else
                            r"(?!\s(?:my (?:old|other|previous|former|work|second|wife|husband|son|daughter|kid|kids|mom|"
                            r"dad|mother|father|sister|brother|friend|partner|child|children|family|employee)|him|her)\b)"
                            # "I unsubscribed from spotify": from something else
                            rf"(?!\s(?:from|of) (?!{_LIST}|{_MSG_OBJ}|you\b|u\b|here\b|ur\b|everything\b|receiving\b|getting\b|being\b|"
                            r"this number\b|your company\b)\w)"),
    # "I revoke my consent", "I withdraw my consent", "I no longer consent"
    _r("revoke_consent", "en",
       r"(?:(?:revoke|revoking|withdraw|withdrawing|rescind|cancel|take back)\s(?:my\s|all\s|any\s)?"
       r"(?:consent|permission|authorization|opt in)|(?:no longer|do not|never)\s(?:consent|agree to this)|"
       r"i revoke(?=$|\s(?:my|all|any|consent|permission|it|this)\b)|"
       r"(?:my |all |any )?(?:consent|permission|authorization) (?:is |is hereby |hereby |has been )?(?:revoked|withdrawn|"
       r"rescinded)|(?:revocation|withdrawal) of (?:my |all |any )?(?:consent|permission)|"
       r"(?:did not|have not|never|do not) (?:give |gave |ever give )?(?:consent|consented|agree|agreed)(?= to (?:receive|"
       r"get|be|being|these|this|them|any|your|text|texts|messages|sms|marketing|you)\b)|"
       r"no consent(?: (?:was )?given| to (?:text|contact|message))?$)"),
    # "wrong number", "you have the wrong person"
    _r("wrong_number", "en", r"(?:wrong|incorrect|not the right|not the correct) (?:number|person|phone|cell|guy|girl|contact|"
                             r"phone number)(?!\s(?:on|in|for(?! whoever| who| the person| that person| them| him| her)|"
                             r"listed|of|at|format|was|is)\b)",
       not_after=r"\bi (?:gave|give|entered|typed|put|used|provided|sent|texted|text|dialed|dial|called|call|had|have|got|"
                 r"wrote)"
                 r"(?:\s\w+){0,3}"),
    # "I never signed up for this", "I never gave you permission to text me"
    _r("never_signed_up", "en",
       r"(?:never|did not|have not|never ever)\s(?:sign(?:ed)? up|subscribed?|opt(?:ed)? in|agreed?|consented?|"
       rf"(?:ask(?:ed)? (?:for|to get|to receive)|request(?:ed)?) (?:{_MSG_OBJ}|this|these|them|that|it|any of this)|"
       r"(?:gave|give|shared|share|provided|provide|gave out) (?:you |anyone )?(?:my number|permission|consent|my consent))(?=$|\s(?:for|to)\s(?:any of this|any of these|any of it|any of your|any|this|these|them|it|anything|receive|get|be|your|text|texts|"
       r"messages|sms|alerts|marketing|a list|any list)\b|\s(?:with you|stop|please)\b)"),
    # "how did you get my number"
    _r("nobody_asked", "en", rf"(?:nobody|no one|noone) (?:asked|signed up) for (?:{_MSG_OBJ}|this|these|them|your)"),
    _r("who_sold_you_my_number", "en", r"who (?:gave|gave out|sold|shared|leaked|passed|passed on|handed out) (?:you |yall |"
                                       r"you guys |out |on )?(?:my|this) (?:number|phone number|cell|cell number|info|"
                                       r"contact info)"),
    _r("how_did_you_get_my_number", "en",
       r"(?:how|where) (?:did|do|would) (?:you|you guys|you people|yall) (?:get|got|find|obtain) (?:my|this) "
       r"(?:number|phone number|cell|cell number|contact|info)|"
       r"(?:why|how come) (?:do|does) (?:you|yall|you guys|you people|this company|your company) (?:even )?have (?:my|this) "
       r"(?:number|phone number|cell|cell number|contact|info)|"
       r"who gave (?:you|yall|you guys|you people) (?:my|this) (?:number|phone number|cell|cell number|contact|info)"),
    # "leave me alone", "go away", "fuck off"
    _r("leave_me_alone", "en", r"leave (?:me|us|my phone|this phone|my number|this number) (?:the fuck |the hell )?"
                               r"(?:alone|be)"),
    _r("why_am_i_still_getting_these", "en",
       rf"why (?:am i|do i|are we|do we|is this number|does this number) (?:(?:(?:still|keep|always|even) )+(?:getting|"
       rf"receiving) (?:{_MSG_OBJ}|these|this|them)|(?:getting|receiving) (?:{_MSG_OBJ}|these$|them$|all these))"),
    _r("block_anchor", "en",
       r"(?:(?:you have been|you are|you re|you been|number|this number|your number|sender|you got) "
       r"(?:blocked|reported)(?: and (?:reported|blocked))?)|"
       r"(?:i am |i have |i will |just )?(?:deleting and |reporting and )?(?:blocking|blocked|block)(?: (?:you|this "
       r"number|this|u|your number|it|now|the number))?(?: (?:and|&) (?:reporting|deleting|reported|deleted))?",
       anchored=True),
    _r("why_are_you_texting_me", "en",
       r"why (?:(?:are|do|is|the fuck are|tf are|does) )?(?:you|this number|yall|you guys|you people|someone) (?:keep |still |"
       r"always )?(?:texting|messaging|contacting|sending|spamming|text|message|contact)(?: me| this number|$)"),
    _r("you_are_spamming_me", "en", r"(?:you are|you re|youre|u r|ur|you keep|u keep|you have been|you been) "
                                    r"(?:spamming|harassing|bothering|bugging|pestering) (?:me|us|my phone|this number)"),
    _r("no_longer_their_number", "en",
       r"(?:this|that|my) (?:number|phone|cell|line)(?: number)? (?:does not|do not|no longer|is not|is no longer) "
       r"(?:belong|belongs|belonging) to (?:\w+|that person|the person|him|her|them|who you think)"),
    _r("no_es_de_esa_persona", "es",
       r"(?:este|ese|mi|el) (?:numero|telefono|celular)(?: ya)? no es (?:de|del) (?:esa persona|\w+|la persona)|"
       r"no (?:es|soy) (?:el|la) (?:dueno|duena|persona) de (?:este|ese) numero|"
       r"(?:ya )?no es (?:el )?(?:numero|telefono|celular) de \w+|"
       r"(?<=\w )(?:ya )?no (?:tiene|usa) (?:este|ese) (?:numero|telefono|celular)"),
    _r("person_is_not_here", "en",
       r"(?:the person|whoever|the guy|the lady|the one|who) (?:you are|you re|you)\s?(?:want|looking for|trying to reach|"
       r"texting|need|think you are texting|are after)(?: is| are)? (?:not|no longer) (?:here|at this number|"
       r"reachable here|with this number)|"
       r"(?<!\bi )(?<!\bwe )(?<!\byou )(?<=\w )(?:does not|do not|no longer) (?:have|has|own|owns|use|uses) (?:this|that) "
       r"(?:number|phone|cell)(?= anymore| any more|$)|"
       r"(?:this|that) (?:is not|is no longer) (?:\w+s|his|her|their) (?:phone|number|cell)(?: number)?"
       r"(?= anymore| any more|$)"),
    _r("not_my_number", "en", r"(?:this is |that is |it is |sorry |this |that )?not (?:my|our) (?:number|phone|cell|phone "
                              r"number|cell number)(?: anymore| any more)?(?:\s(?:please|so)?\s?(?:update|fix|change|correct)"
                              r" your (?:records|list|system|contacts|database))?", anchored=True),
    _r("changed_their_number", "en",
       r"(?<=\w )(?:changed|switched|gave up|got rid of|no longer has) (?:his|her|their) (?:number|phone "
       r"number|cell number)(?=$|\s(?:this|so|and|please|stop|wrong|years|months|a while)\b)|"
       r"(?:i am|we are) the new (?:owner|holder|user|owners) of this (?:number|phone|line)|"
       r"the number (?:you are|you re|u r) (?:texting|messaging|contacting|trying to reach) (?:is not|does not belong to|"
       r"is no longer|no longer belongs to)|"
       r"(?:this|that) number (?:is )?no longer (?:belongs to|in service for|used by|assigned to) (?:that person|him|her|"
       r"them|\w+)"),
    _r("do_not_know_you", "en", r"(?:i )?do not know (?:you|who you are|this company|your company|you people|you guys|"
                                r"who (?:yall|you guys) are)(?=$|\s(?:stop|please|sorry|so|and|leave|bye)\b)"),
    _r("not_their_number", "en",
       r"(?:this|that) (?:number|phone|cell)(?: number)? (?:is not|does not belong to|is no longer) (?:\w+s|his|hers|"
       r"theirs|yours)$"),
    _r("a_different_person", "en", r"(?:you|u) (?:want|need|have|are looking for|are after|are trying to reach|are "
                                   r"texting|got) (?:a different|another|some other|the wrong|someone else|somebody else)"
                                   r"(?: (?:person|number|guy|girl|lady|man|woman|contact))?(?=$|\s(?:sorry|please|not|"
                                   r"this|i|stop)\b)"),
    _r("not_allowed_to_text_me", "en",
       r"(?:you|u) (?:may not|are not allowed to|re not allowed to|are not permitted to|have no right to|do not have "
       r"the right to|are not authorized to|have no permission to) (?:text|message|contact|sms|call or text|text or "
       r"call|send texts to|send messages to)(?: me| this number| us| my number)?(?=$|\s(?:again|anymore|any more|ever|"
       r"please|stop)\b)"),
    _r("number_belongs_to_someone_else", "en",
       r"(?:this|that|my) (?:number|phone|phone number) (?:belongs to|is) (?:someone else|somebody else|a different "
       r"person)|not (?:the (?:person|one|guy|girl|lady|man|woman)|who) (?:you are|you re|youre|you) (?:looking for|"
       r"trying to reach|after|texting|want|think)"),
    _r("should_not_get_these", "en",
       rf"(?:i|we|this number|this phone|my number|this line) (?:should not|should never|am not supposed to|is not "
       rf"supposed to|are not supposed to) (?:be )?(?:getting|receiving|get|receive) (?:{_MSG_OBJ}|these|this|them)|"
       r"not a number (?:you|u) should be (?:texting|messaging|contacting)|(?:you|u) should not be (?:texting|messaging|"
       r"contacting) (?:me|this number|us)|why (?:is|am|are) (?:this number|my number|i|we) (?:on|in) (?:this|your|the|ur) "
       r"(?:list|texting list|database|system)"),
    _r("not_a_customer", "en", r"(?:i have|i got|we have) no (?:business|dealings|account|relationship) with (?:you|your "
                               r"company|you guys|yall)|(?:i have |i )?never been (?:a|your|one of your) (?:customer|client|patient)|"
                               r"(?:i )?do not (?:even )?have an account (?:with|at) (?:you|your company|you guys|yall)|"
                               r"(?:i am|we are) not (?:your|a|one of your) (?:customer|client|patient)|never (?:did|done|"
                               r"do) business with (?:you|your company)|never (?:bought|ordered|shopped) (?:anything )?"
                               r"(?:from|with|at) (?:you|your)"),
    _r("cease", "en", r"cease (?:and desist|all (?:communication|communications|contact|messages|texts)|"
                      r"communication|contact|contacting)"),
    _r("do_not_call_registry", "en", r"(?:on|in|violating|violate|violation of|breaking) (?:the )?(?:national )?(?:do not call|dnc|do not text) (?:list|registry)"),
    _r("appreciate_if_you_stopped", "en", r"(?:appreciate|prefer|like) (?:it )?if (?:you|u) (?:stopped|would stop|could "
                                          r"stop|quit|stop|did not|do not|no longer) (?:texting|messaging|contacting|text|"
                                          r"message|contact|sending)"),
    _r("want_off_the_list", "en", r"(?:(?:i|we) (?:want|would like|would love|need|wanna|would rather be)|let (?:me|us)|"
                                  r"(?:i|we) (?:want|need) to get) off (?:this|your|the|ur|of this|of your|all your|all) "
                                  r"(?:list|lists|texts|messages|texting list|mailing list)"),
    _r("landline", "en", r"(?:this is|this number is|it is|that is|you are texting) a (?:landline|land line)|"
                         r"texting a (?:landline|land line)"),
    _r("no_contact", "en", r"(?:i want |we want |i would like |i need )?no (?:more |further |additional |future )?"
                           r"(?:contact|communication|communications|ads|advertising|advertisements|marketing|promotions|"
                           r"promos|solicitations|solicitation|texts|messages|text messages|sms)",
       anchored=True),
    _r("harto_de_mensajes", "es",
       r"(?:odio|detesto) (?:sus |tus |estos |los |esos |recibir )?(?:mensajes|textos|sms|promociones|publicidad)|"
       r"(?:son|estan) (?:muy |bien |super |demasiado )?(?:molestos|fastidiosos|pesados|insoportables) (?:sus|estos|los|"
       r"tus) (?:mensajes|textos)|(?:sus|estos|los|tus) (?:mensajes|textos) (?:son|estan) (?:muy |bien |super )?(?:molestos|"
       r"fastidiosos|pesados|insoportables)|"
       r"(?:harto|harta|hartos|hartas|cansado|cansada|cansados|fastidiado|fastidiada|me canse|nos cansamos|que fastidio|"
       r"que molestia|que lata|que pesados|"
       r"(?:me|nos) tienen (?:harto|harta|hartos|cansado|cansada|hasta la madre)) (?:de|con) (?:sus |tus |los |estos |"
       r"tantos |tanto |recibir |tanta )?(?:mensajes|mensaje|textos|sms|promociones|publicidad|spam|ofertas|"
       r"notificaciones)"),
    _r("nunca_mas_me_escriban", "es",
       r"(?:nunca|jamas) (?:mas )?(?:me |nos )?(?:escriban|envien|manden|contacten|molesten|escribas|mandes|envies|"
       r"vuelvan a \w+)|no vuelvan a (?:\w+ ni )?(?:escribir|enviar|mandar|contactar|molestar|textear)|"
       r"(?:ya )?no quiero saber (?:nada(?= de (?:ustedes|usted|ti|su empresa|esto|su compania)|$)|de (?:ustedes|usted|ti|"
       r"su empresa|su compania))"),
    _r("sick_of_texts", "en", rf"(?:sick|tired|fed up|had it|had enough) (?:of|with) (?:{_MSG_OBJ}|you|getting|receiving|your|this|these)"),
    _r("texts_are_annoying", "en",
       rf"{_MSG_OBJ}\s(?:(?:are|is)\s(?:so\s|really\s|very\s|getting\s)?(?:annoying|spam|harassment|unwanted|"
       r"unsolicited|too much|excessive|ridiculous|out of control|getting old|a nuisance|not wanted)|not wanted)"),
    _r("go_away", "en", r"(?:go away|get lost|buzz off|back off|shoo|go to hell|drop dead|shut up|shut the fuck up|"
                        r"scram|take a hike|bug off|shove off|get outta here|get out of here|"
                        r"get (?:off|out of) my phone)", anchored=True),
    _r("fuck_off", "en", r"(?:fuck off|f off|eff off|piss off|bugger off|sod off|fuck you|fuck u|screw off|screw you)"),
    # "this is spam", "reported as spam", "I'm reporting this number"
    _r("spam", "en", r"(?:this is|is|its|you are|such|more)?\s?(?:spam|spammer|spammers|harassment|a scam|junk|"
                     r"junk message|junk text)",
       anchored=True),
    _r("es_spam", "es", r"(?:esto es|es|son|puro|pura|esto es puro|(?:(?:los |lo |te |les |la )?(?:reporte|reportare|"
                        r"reportamos|marque|marcare|denuncie)|reportado|reportada|reportando|reporto|"
                        r"denunciado|marcado) como)\s(?:spam|acoso|basura|estafa)", anchored=True),
    _r("report", "en",
       r"(?:(?:report|reported|reporting|flagged|flagging|blocking|blocked)\s(?:you|this|this number|it|your number|"
       r"the number)?\s?(?:as|for|to the|to) (?:spam|junk|harassment|ftc|fcc|the ftc|the fcc|attorney general|"
       r"police|the police|bbb|my carrier)|(?:file|filing|filed|lodge|lodging) (?:a )?complaint|(?:forward|forwarded|"
       r"forwarding|sent|sending|reported|reporting) (?:this |it |your text |these )?to (?:7726|spam|my carrier))"),
    # "if you text me again I'm calling the police"
    _r("threat", "en", rf"if (?:you|anyone) (?:text|message|contact|send)\s(?:{_ME}\s)?(?:again|one more)|"
                       r"keep (?:texting|messaging|contacting) (?:me )?and see what happens|(?:text|message) me one more "
                       r"time$|one more (?:text|message) and"),
    _r("last_warning", "en", r"(?:this is (?:your|my) )?(?:last|final) warning", anchored=True),
    _r("ugh_these_texts", "en", rf"(?:ugh|argh|omg|god|seriously|wtf|smh|ffs|jfc|ugh more)\s(?:(?:{_DET})\s)?(?:{_ADJ}\s)?"
                                rf"{_MSG}", anchored=True),
    # "not interested", "no thanks, not interested"
    _r("not_interested", "en",
       r"(?:no thanks\s|no thank you\s|no\s)?(?:i am\s|am\s|we are\s)?(?:not|no longer|not really|un|dis) ?interested(?:\s(?:at all|anymore|any more|in any of (?:this|it|these|that|them|your \w+)|in anything|in "
       rf"(?:receiving |getting )?(?:this|these|that|it|them|your (?:texts|messages|offers|services|products|deals)|"
       rf"{_MSG_OBJ})))?", anchored=True),
    _r("do_not_want_this", "en",
       r"(?:i\s)?(?:do not|really do not)\s(?:want|need)(?:\s(?:this|it|this service|your service|these|any of this|"
       r"any of it))?(?:\s(?:anymore|any more))?", anchored=True),
    _r("i_want_to_stop", "en", r"(?:i|we)\s(?:want|would like|need|wish) to (?:stop|unsubscribe|opt out|be done)",
       anchored=True),
    _r("told_you_no", "en", r"(?:i\s)?(?:already\s)?(?:told you|said|answered|replied)\s(?:no|not interested|stop)"
                            r"(?:\s(?:already|before|twice))?", anchored=True),
    _r("turn_them_off", "en", rf"turn\s(?:{_MSG_OBJ}|these|them|those)\soff"),
    _r("get_off_the_list", "en",
       r"(?:get|be)\s(?:me\s|us\s)?(?:off|out of|removed from)\s(?:this|your|the|ur)\s(?:list|texts|messages|"
       r"texting list)|(?:get|be)\s(?:me\s|us\s)?removed(?=$|\s(?:please|now|asap)\b)"),
    _r("stop_these_at_the_end", "en", r"(?:stop|end|cancel)\s(?:these|them|those|all of these)(?=$)"),
    _r("whoever_you_are_trying_to_reach", "en", r"whoever (?:you are|you re|youre) (?:trying to reach|looking for|texting)"),
    # "I don't want these texts", "I no longer want to receive texts", "I don't want to be contacted"
    _r("never_want_to_hear_from_you", "en", r"never want to hear from (?:you|your company|this number|yall|you guys|you people)|"
                                            rf"(?:i\s)?(?:hate|despise|can not stand|loathe) (?:getting |receiving )?{_MSG_OBJ}"),
    _r("do_not_want", "en",
       rf"(?:i\s)?(?:do not|no longer|really do not|do not really)\s(?:want|wish|need|like)\s(?:to (?:receive|get|be "
       rf"getting|keep getting|be receiving|have|continue receiving|continue getting|keep receiving|continue to "
       rf"receive|continue to get)\s|you to send\s)?(?:{_MSG_OBJ}|these|them|to be (?:contacted|texted|"
       rf"messaged|bothered)|to hear from (?:you|your company|this number|yall|you guys)|to be on (?:your|this|the|any|ur) (?:list|"
       rf"texting list|mailing list|sms list|contact list))"),
    _r("want_my_number_removed", "en", r"(?:want|need|would like) (?:my number|my info|my name|me|this number|my phone "
                                       r"number) (?:removed|deleted|taken off|off)"),
    _r("done_with_texts", "en", rf"(?:done|over) with (?:{_MSG_OBJ}|you|your texts)(?=$|\s(?:please|stop|now|already|"
                                r"thanks)\b)"),
    _r("over_these_texts", "en", rf"(?:i am|we are)\s(?:(?:so|really|totally|just|all|completely)\s)*(?:over|done with|"
                                 rf"through with|finished with)\s(?:{_MSG_OBJ}|these|them|you guys|all of this|this crap|"
                                 r"these texts)(?=$|\s(?:please|stop|now|already|thanks|bye|so)\b)"),
    # "I'm not interested please stop", "I asked you to stop", "stop or I'll block you"
    _r("please_stop", "en", r"(?:please|so|just|now|kindly|and|ok|so please|then)\s(?:stop|stop it|stop now|"
                               r"unsubscribe|stop texting|stop texting me)$"),
    _r("asked_you_to_stop", "en", r"(?:asked|told|tell|said|say|saying|telling|asking|texted|replied|typed)\s(?:(?:you|"
                                  r"your (?:bot|robot|system|agent|company|people|team|rep|ai)|ur bot|yall|you guys|"
                                  r"you people)\s)?"
                                  r"(?:(?:\w+ times|so many times|many times|multiple times|repeatedly|before|already|"
                                  r"twice|again|nicely|politely)\s)?"
                                  r"(?:to be (?:removed|taken off|unsubscribed|deleted)|to be left alone|"
                                  r"(?:to\s)?(?:stop|unsubscribe|remove me)(?!\s(?:by|in|over)\b))"),
    _r("block", "en", r"(?:(?:or|else)\s(?:i will|i am going to|i am gonna|i ll|ill)\s(?:block|report)|(?:i am|i will|i"
                      r" have|going to|gonna|ill|i ll)\s(?:block|blocking|blocked|report|reporting)\s(?:you|this|"
                      r"this number|your number|it|u))"),
    _r("i_want_out", "en", r"(?:i|we)\swant (?:out|off)(?:\sof\s(?:this|these|here|it|your list|the list))?", anchored=True),
    _r("get_you_to_stop", "en",
       r"(?:get|make|convince) (?:you|yall|you guys|you people|u) (?:to )?stop|"
       r"(?:do|should|will|must) (?:i|we) (?:(?:need to|have to|just|really) )*(?:block|report) (?:you|this number|u|yall|"
       r"you guys|you people)|"
       r"(?:continue|keep it up|keep this up|keep going|one more) and (?:you are|you will be|you re|you get|i am|i will|ill|"
       r"i ll) (?:blocked|reported|reporting|blocking|report|block)|(?:stop|quit)(?: \w+){0,3} or else$"),
    _r("does_not_want_texts", "en",
       rf"(?:we|they|this number|this person|this phone|my (?:wife|husband|son|daughter|mom|dad|client|company|"
       rf"business|office|family)|our (?:company|business|office|family|household|team|firm)|the company|he|she)\s"
       rf"(?:does not|do not|no longer)\s(?:want|wish|need)\s(?:to (?:receive|get)\s)?(?:{_MSG_OBJ}|these)"),
    _r("no_one_here_by_that_name", "en", r"(?:no one|nobody|noone)\s(?:here\s|at this number\s)?(?:by|with|named|"
                                         r"called)\s(?:that|this)\s(?:name)|(?:there is |there are )?(?:no one|nobody|"
                                         r"noone) (?:here |at this number )?(?:named|called|by the name(?: of)?) \w+$|"
                                         r"i do not know (?:any|anyone named|anybody named|anyone called|a|an) "
                                         r"(?!(?:of|that|this|it|more|better|one|body|thing|way|other|who|what|"
                                         r"where|when|how|why|yet)\b)\w+$"),
    # "how do I stop these", "how do I get off this list"
    _r("how_do_i_stop_these", "en",
       rf"how (?:do|can|would|should|could) (?:i|we) (?:stop|end|turn off|block|cancel|get rid of|opt out of|"
       rf"unsubscribe from|unsubscribe to|make) (?:{_MSG_OBJ}|these|them|this list|receiving|getting)(?: stop)?|"
       rf"how (?:do|can|would|should|could) (?:i|we) (?:get|be|get taken|get removed) (?:off|out of|removed from) "
       rf"{_LIST}"),
    _r("report_spam", "en", r"(?:report|reported|reporting|mark|marked|marking|flag|flagged|flagging)(?: (?:it|this|you|"
                            r"u))?(?: as)? (?:spam|junk)", anchored=True),
)
